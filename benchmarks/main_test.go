package benchmarks

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a benchmark or test leaves a goroutine behind:
// every server, client and crowd must be shut down. Started with
// clientsEnv set, the test binary is instead BenchmarkFanout's client
// process, with loadEnv set one of the load processes of BenchmarkSoak,
// BenchmarkSteady and BenchmarkSlowConsumer, and with serverEnv set one of
// BenchmarkSoak's server processes.
func TestMain(m *testing.M) {
	if spec := os.Getenv(clientsEnv); spec != "" {
		os.Exit(runClientProcess(spec))
	}
	if spec := os.Getenv(loadEnv); spec != "" {
		os.Exit(runLoadProcess(spec, os.Stdin, os.Stdout))
	}
	if spec := os.Getenv(serverEnv); spec != "" {
		os.Exit(runServerProcess(spec, os.Stdin, os.Stdout))
	}
	goleak.VerifyTestMain(m)
}
