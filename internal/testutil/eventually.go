// Package testutil holds what tests share: waiting for a condition and
// building Deployments. Only tests import it.
package testutil

import (
	"testing"
	"time"
)

// maxPoll bounds the wait between two tries of a condition: short enough
// for unit tests, gentle enough on an API server for end-to-end ones.
const maxPoll = 50 * time.Millisecond

// Eventually polls cond until it holds, failing t after timeout. what
// names the awaited event in the failure. The wait between tries starts at
// a millisecond and doubles up to maxPoll, so a quick event is seen
// quickly and a slow one is not polled in a tight loop.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, maxPoll)
	}
}
