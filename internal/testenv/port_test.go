package testenv

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePort: the servers' ports come from below the kernel's ephemeral range, which no outgoing
// connection's source port is taken from, and nothing listens on them.
func TestFreePort(t *testing.T) {
	low := ephemeralStart()
	for range 50 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if port < firstPort || port >= low {
			t.Fatalf("port %d, want one in [10000, %d)", port, low)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d: %v", port, err)
		}
		l.Close()
	}
}
