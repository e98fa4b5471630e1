package printers

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/fanin"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

func inContext(e deployment.Event, ctx string) deployment.Event {
	e.Context = ctx
	return e
}

// TestLiveCountsPerContext: over several contexts the live table has a line
// per context under the title, with its counts or why it cannot be seen,
// and a CONTEXT column.
func TestLiveCountsPerContext(t *testing.T) {
	now := t0.Add(90 * time.Second)
	p := NewLive(&syncWriter{}, Options{Contexts: true, AllNamespaces: true, Now: func() time.Time { return now }}, "t", func() (int, int) { return 0, 0 })
	defer p.Close()
	p.OnSource(fanin.State{Context: "east", Namespace: "shop", Synced: true})
	p.OnSource(fanin.State{Context: "west", Namespace: "shop", Err: errors.New("cannot reach the API server at https://127.0.0.1:1:\nconnection refused"), Since: t0})
	p.OnEvent(inContext(event(deployment.Added, "shop", "web", deployment.Running, 1, 1, "nginx:1"), "east"))
	p.OnEvent(inContext(event(deployment.Added, "shop", "api", deployment.Failed, 0, 1, "nginx:1"), "east"))
	p.OnSynced(nil)
	f := p.Frame(0, 0)
	if want := "  east: 2 deployments: 1 Failed, 1 Running"; f[1] != want {
		t.Errorf("east's line = %q, want %q", f[1], want)
	}
	if want := "  west: 0 deployments · unreachable since " + t0.Local().Format(time.TimeOnly) + ": cannot reach the API server at https://127.0.0.1:1: connection refused"; f[2] != want {
		t.Errorf("west's line = %q, want %q", f[2], want)
	}
	if !strings.HasPrefix(f[3], "CONTEXT") || !strings.HasPrefix(f[4], "east ") {
		t.Fatalf("want a CONTEXT column:\n%s", strings.Join(f, "\n"))
	}

	// west comes up, then east is lost: its rows stay, said to be stale.
	p.OnSource(fanin.State{Context: "west", Namespace: "shop", Synced: true})
	p.OnEvent(inContext(event(deployment.Added, "shop", "web", deployment.Running, 1, 1, "nginx:1"), "west"))
	p.OnSource(fanin.State{Context: "east", Namespace: "shop", Synced: true,
		Health: tracker.Health{State: tracker.Reconnecting, Since: t0, Err: errors.New("connection refused")}})
	f = p.Frame(0, 0)
	if !strings.HasPrefix(f[1], "  east: 2 deployments: 1 Failed, 1 Running · reconnecting since ") || !strings.HasSuffix(f[1], "connection refused (its rows may be stale)") {
		t.Errorf("east's line while lost = %q", f[1])
	}
	if f[2] != "  west: 1 deployment: 1 Running" {
		t.Errorf("west's line once up = %q", f[2])
	}
	if len(f) != 7 {
		t.Errorf("want title, 2 context lines, header and 3 rows:\n%s", strings.Join(f, "\n"))
	}
}

// TestStreamKeepsContextsApart: the same namespace/name in two contexts
// are two rows, and a repeat is found per context.
func TestStreamKeepsContextsApart(t *testing.T) {
	var out bytes.Buffer
	p := NewStream(&out, Options{Contexts: true, AllNamespaces: true})
	p.OnSynced(nil)
	p.OnEvent(inContext(event(deployment.Added, "shop", "web", deployment.Running, 1, 1, "nginx:1"), "east"))
	p.OnEvent(inContext(event(deployment.Added, "shop", "web", deployment.Running, 1, 1, "nginx:1"), "west"))
	p.OnEvent(inContext(event(deployment.Modified, "shop", "web", deployment.Running, 1, 1, "nginx:1"), "west"))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CONTEXT") || !strings.HasPrefix(lines[1], "east ") || !strings.HasPrefix(lines[2], "west ") {
		t.Fatalf("want a header and one row per context:\n%s", out.String())
	}
}
