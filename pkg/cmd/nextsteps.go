package cmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/gate"
)

// printNextSteps follows the `error: ` line of a failed wait (package
// gate) with what would help: each step of its first failure on a line of
// its own, a command to copy with what it does as a shell comment, then
// every other failure as an `error: ` line of its own with its steps. It
// prints nothing for any other error.
//
//	error: deployment shop/api is Failing: ...
//	  kubectl deploywatch undo api -n shop      # roll back to the previous revision
//	  kubectl deploywatch history api -n shop   # list its revisions and their images
//	error: deployment shop/db is Paused: rollout paused before it started: no pods until resumed
//	  kubectl deploywatch resume db -n shop   # start the rollout: it has no pods until resumed
func printNextSteps(w io.Writer, err error) {
	var end *gate.Error
	if !errors.As(err, &end) {
		return
	}
	for i, f := range end.Failures {
		if i > 0 {
			fmt.Fprintln(w, "error: "+oneLine(f.Message))
		}
		width := 0
		for _, s := range f.Steps {
			width = max(width, len(s.Command))
		}
		for _, s := range f.Steps {
			fmt.Fprintf(w, "  %-*s   # %s\n", width, s.Command, s.Why)
		}
	}
}

// stepTarget is how next steps reach the cluster the command used: the
// --kubeconfig and --context given (a list of contexts is not one:
// each Deployment then names its own).
func stepTarget(cf *genericclioptions.ConfigFlags) gate.Target {
	var t gate.Target
	if cf == nil {
		return t
	}
	if cf.KubeConfig != nil {
		t.Kubeconfig = *cf.KubeConfig
	}
	if cf.Context != nil && !strings.Contains(*cf.Context, ",") {
		t.Context = *cf.Context
	}
	return t
}
