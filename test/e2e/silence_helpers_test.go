package e2e

import (
	"testing"
	"time"

	"k8s.io/client-go/util/retry"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// proveSilence is the later positive event that proves a silence: it
// creates Deployment name in the fault bed, waits until the watch and the
// stream show it, then scales it to 2 and waits for that MODIFIED in both.
// Events reach both in the order the API server stored them, and a relist
// delivers its whole list before any watch event, so once the MODIFIED
// shows, whatever was stored before it has been shown (or was silent).
// Callers leave name's own events out of what must be silent.
func proveSilence(t *testing.T, b *faultBed, w *watchProc, f *sseFollower, name string) {
	t.Helper()
	b.create(t, name, 1)
	testutil.Eventually(t, time.Minute, name+" to show in watch and serve", func() bool {
		_, inWatch := lastByName(w.allEvents())[name]
		_, inStream := f.view()[name]
		return inWatch && inStream
	})
	// The controller is still writing the new Deployment's status.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error { return b.scale(t, name, 2) }); err != nil {
		t.Fatal(err)
	}
	scaled := func(evs []deployment.Event) bool {
		for _, e := range evs {
			if e.Name == name && e.Type == deployment.Modified && e.Replicas.Desired == 2 {
				return true
			}
		}
		return false
	}
	testutil.Eventually(t, time.Minute, name+"'s scale to show in watch and serve", func() bool {
		return scaled(w.allEvents()) && scaled(f.all())
	})
}

// without returns evs without Deployment name's events.
func without(evs []deployment.Event, name string) []deployment.Event {
	var out []deployment.Event
	for _, e := range evs {
		if e.Name != name {
			out = append(out, e)
		}
	}
	return out
}
