// Package bench is deploywatch's benchmark suite (issue 6): it runs the
// plugin, kubectl and a raw client-go watch side by side against the test
// bed and prints a table of figures. It is run by `make bench`, which sets
// DEPLOYWATCH_BENCH=1; without it every test here is skipped and no cluster
// is started, so `go test ./test/...` pays nothing for it. Nothing here
// asserts a time: the figures are reported, not judged.
package bench

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

var (
	quick      = flag.Bool("quick", false, "scale the biggest cases down (1,000 clients, 1,000 Deployments) for a development run")
	reportPath = flag.String("report", "", "also write the report (markdown) to this file")
)

func enabled() bool { return os.Getenv("DEPLOYWATCH_BENCH") != "" }

func TestMain(m *testing.M) {
	flag.Parse()
	if !enabled() {
		fmt.Fprintln(os.Stderr, "bench: skipped; run it with make bench (DEPLOYWATCH_BENCH=1)")
		os.Exit(m.Run())
	}
	os.Exit(testbed.Main(m))
}
