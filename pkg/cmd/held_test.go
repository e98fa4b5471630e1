package cmd

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// Warnings of kinds left out wait for the first view: printed just before
// it, at once after it, and never when the watch fails before it.
func TestKindWarningsHeldUntilTheView(t *testing.T) {
	var out bytes.Buffer
	h := &heldLines{out: &out}
	h.print("warning: one")
	if out.Len() != 0 {
		t.Fatalf("printed before the view: %q", out.String())
	}
	var atView string
	probe := &recordingSink{onSynced: func() { atView = out.String() }}
	(&syncFlag{Sink: probe, synced: new(atomic.Bool), before: h.release}).OnSynced([]deployment.Summary{})
	if atView != "warning: one\n" {
		t.Errorf("at the view stderr held %q, want the warning before it", atView)
	}
	h.print("warning: two")
	if out.String() != "warning: one\nwarning: two\n" {
		t.Errorf("after the view: %q", out.String())
	}
	(*heldLines)(nil).release() // a watch of chosen kinds holds none
}
