package testenv

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime is the CPU time (user and system) the process has used so far: benchmarks report it
// per operation (ReportCPU), since the wall time of a page also holds the database's.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports the process's CPU time since start per operation of b, as cpu-µs/op.
func ReportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((CPUTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
}
