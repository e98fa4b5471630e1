package printers

import (
	"fmt"
	"io"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// BenchmarkNDJSON is one steady-state event printed by -o ndjson.
func BenchmarkNDJSON(b *testing.B) {
	p := NewNDJSON(io.Discard)
	e := event(deployment.Modified, "shop", "web", deployment.Running, 3, 3, "nginx:1.25")
	e.Changed = []string{"replicas.ready"}
	b.ReportAllocs()
	for b.Loop() {
		p.OnEvent(e)
	}
}

// BenchmarkStream is one steady-state event printed as a row of the piped
// table, after the first table.
func BenchmarkStream(b *testing.B) {
	p := NewStream(io.Discard, Options{})
	e := event(deployment.Modified, "shop", "web", deployment.Running, 3, 3, "nginx:1.25")
	p.OnEvent(e)
	p.OnSynced(nil)
	b.ReportAllocs()
	for b.Loop() {
		p.OnEvent(e)
	}
}

// BenchmarkLiveFrame is one frame of the live table on a 200x50 terminal
// after one Deployment changed, with 100, 1,000 and 10,000 Deployments in
// 100 namespaces: a frame must cost what it shows (about 47 rows), not what
// exists. The changed row takes turns over all of them, as scales spread
// over a cluster do.
func BenchmarkLiveFrame(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("deployments=%d", n), func(b *testing.B) {
			p := NewLive(io.Discard, Options{AllNamespaces: true}, "deployments in all namespaces", func() (int, int) { return 200, 50 })
			defer p.Close()
			events := make([]deployment.Event, n)
			for i := range events {
				events[i] = event(deployment.Added, fmt.Sprintf("ns-%03d", i%100), fmt.Sprintf("app-%05d", i), deployment.Running, 3, 3, "registry.example.com/team/app:1.0")
				p.OnEvent(events[i])
			}
			p.OnSynced(nil)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				e := events[i%n]
				e.Type = deployment.Modified
				e.Replicas.Desired = int32(3 + i%2)
				p.OnEvent(e)
				_ = p.Frame(200, 50)
				i++
			}
		})
	}
}
