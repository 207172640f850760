package main

import (
	"os"
	"strings"
	"testing"

	"github.com/agora/agora/internal/testenv"
)

// TestMain runs the tests, or with AGORA_TEST_MAIN_ARGS set runs main with those arguments (the
// command-line tests start the test binary as agora that way).
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("AGORA_TEST_MAIN_ARGS"); ok {
		os.Args = append([]string{"agora"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	testenv.Main(m)
}
