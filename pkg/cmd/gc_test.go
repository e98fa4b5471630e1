package cmd

import (
	"os"
	"runtime/debug"
	"sync/atomic"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// gcPercent reads GOGC as the runtime has it now.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestCollectEagerlyUntilTheFirstView: GOGC is firstListGCPercent until
// the first view is out, then what it was; a GOGC the user set is kept.
func TestCollectEagerlyUntilTheFirstView(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		t.Setenv("GOGC", "") // put back as it was when the test ends
		if err := os.Unsetenv("GOGC"); err != nil {
			t.Fatal(err)
		}
		defer debug.SetGCPercent(debug.SetGCPercent(100))
		var synced atomic.Bool
		restore := collectEagerly()
		defer restore()
		if got := gcPercent(); got != firstListGCPercent {
			t.Fatalf("GOGC while the lists arrive = %d, want %d", got, firstListGCPercent)
		}
		var during int
		probe := &recordingSink{onSynced: func() { during = gcPercent() }}
		(&syncFlag{Sink: probe, synced: &synced, then: restore}).OnSynced(nil)
		if during != firstListGCPercent {
			t.Errorf("GOGC while the first view is printed = %d, want %d", during, firstListGCPercent)
		}
		if got := gcPercent(); got != 100 || !synced.Load() {
			t.Errorf("after the first view GOGC = %d (synced %v), want 100 again", got, synced.Load())
		}
		restore() // once only: a later call changes nothing
		debug.SetGCPercent(70)
		restore()
		if got := gcPercent(); got != 70 {
			t.Errorf("a second restore set GOGC to %d", got)
		}
	})
	t.Run("GOGC set", func(t *testing.T) {
		t.Setenv("GOGC", "200")
		defer debug.SetGCPercent(debug.SetGCPercent(200))
		restore := collectEagerly()
		if got := gcPercent(); got != 200 {
			t.Errorf("GOGC=200 set by the user became %d", got)
		}
		restore()
	})
}

// recordingSink is a tracker sink that calls onSynced.
type recordingSink struct{ onSynced func() }

func (r *recordingSink) OnEvent(deployment.Event)      {}
func (r *recordingSink) OnSynced([]deployment.Summary) { r.onSynced() }
