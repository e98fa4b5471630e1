// Command pprofserve is kubectl-deploywatch with net/http/pprof on
// $DEPLOYWATCH_PPROF (e.g. 127.0.0.1:6060), so the benchmark can profile
// serve under load (BENCH_PPROF=1 make bench) without the plugin itself
// carrying a profiling endpoint.
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/cmd"
)

func main() {
	if addr := os.Getenv("DEPLOYWATCH_PPROF"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }() // http.DefaultServeMux holds pprof's handlers
	}
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cmd.Execute(cmd.NewCmdRoot(streams), streams))
}
