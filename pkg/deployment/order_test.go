package deployment

import (
	"slices"
	"testing"
)

// TestStatuses: every Status once, in the documented order (docs/serve.md's
// "what needs attention first"), and a caller cannot change it.
func TestStatuses(t *testing.T) {
	want := []Status{Failed, Failing, Degraded, Deleting, Paused, Progressing, Scaling, ScaledToZero, Running}
	got := Statuses()
	if !slices.Equal(got, want) {
		t.Fatalf("Statuses() = %v, want %v", got, want)
	}
	got[0] = Running
	if again := Statuses(); again[0] != Failed {
		t.Errorf("a caller changed the order: %v", again)
	}
}
