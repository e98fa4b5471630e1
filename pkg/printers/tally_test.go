package printers

import (
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// TestTallyOrder: the title's counts come worst first, in deployment's one
// order (the page's): Deleting and Paused before what is rolling out,
// Running last.
func TestTallyOrder(t *testing.T) {
	counts := map[deployment.Status]int{
		deployment.Running: 3, deployment.ScaledToZero: 1, deployment.Deleting: 1,
		deployment.Progressing: 2, deployment.Paused: 1, deployment.Failing: 1,
	}
	want := "9 deployments: 1 Failing, 1 Deleting, 1 Paused, 2 Progressing, 1 ScaledToZero, 3 Running"
	if got := tally(9, counts); got != want {
		t.Errorf("tally = %q, want %q", got, want)
	}
	if got, want := tally(1, nil), "1 deployment"; got != want {
		t.Errorf("tally = %q, want %q", got, want)
	}
}
