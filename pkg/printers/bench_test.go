package printers

import (
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
