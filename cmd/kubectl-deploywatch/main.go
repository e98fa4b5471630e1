// Command kubectl-deploywatch is the kubectl plugin `kubectl deploywatch`.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/cmd"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cmd.Execute(cmd.NewCmdRoot(streams), streams))
}
