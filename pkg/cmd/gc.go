package cmd

import (
	"os"
	"runtime/debug"
	"sync"
)

// firstListGCPercent is the garbage collector's GOGC while the informers'
// first lists arrive. Go's default, 100, lets the heap grow to twice what it
// kept at the last collection; during the lists that is twice the caches
// filled so far: watching 10,000 Deployments with their ReplicaSets, pods,
// Services and EndpointSlices, the heap peaked at 1.85 times what the
// caches hold at the end (BENCHMARKS.md, issue 26). Collecting at 25 %
// growth until the first view is out trades CPU during the lists (four
// times the marking per byte allocated) for that peak; after it, events
// allocate little and the default comes back. Only the diagnosis's watch
// does it: Deployments alone peak well below, and there the CPU showed as
// time to the first view.
const firstListGCPercent = 25

// collectEagerly sets GOGC to firstListGCPercent and returns what sets it
// back, once however often it is called. A GOGC the user set is left alone.
func collectEagerly() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	prev := debug.SetGCPercent(firstListGCPercent)
	var once sync.Once
	return func() { once.Do(func() { debug.SetGCPercent(prev) }) }
}
