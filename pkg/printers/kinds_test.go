package printers

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

func kindEvent(typ deployment.EventType, kind, name string) deployment.Event {
	e := event(typ, "shop", name, deployment.Running, 1, 1, "nginx:1")
	e.Kind = kind
	return e
}

// Names carry their kind only when rows of more than one kind are shown;
// the title then counts workloads.
func TestLiveKinds(t *testing.T) {
	now := t0.Add(time.Minute)
	title := func(kinds []string) string { return deployment.KindsNoun(kinds) + ` in namespace "shop"` }
	p := NewLive(&syncWriter{}, Options{Now: func() time.Time { return now }, Title: title}, "unused", func() (int, int) { return 0, 0 })
	defer p.Close()
	p.OnSynced(nil)
	p.OnEvent(kindEvent(deployment.Added, deployment.KindDeployment, "web"))
	f := p.Frame(0, 0)
	if !strings.HasPrefix(f[0], `deployments in namespace "shop" · 08:01:00 · 1 deployment: 1 Running`) || !strings.HasPrefix(f[2], "web ") {
		t.Fatalf("one Deployment:\n%s", strings.Join(f, "\n"))
	}
	p.OnEvent(kindEvent(deployment.Added, deployment.KindStatefulSet, "db"))
	p.OnEvent(kindEvent(deployment.Added, deployment.KindStatefulSet, "web"))
	f = p.Frame(0, 0)
	if !strings.HasPrefix(f[0], `deployments and statefulsets in namespace "shop" · 08:01:00 · 3 workloads: 3 Running`) {
		t.Errorf("title %q", f[0])
	}
	var names []string
	for _, l := range f[2:] {
		names = append(names, strings.Fields(l)[0])
	}
	if got := strings.Join(names, " "); got != "sts/db deploy/web sts/web" {
		t.Errorf("names %q, want sts/db deploy/web sts/web", got)
	}
	p.OnEvent(kindEvent(deployment.Deleted, deployment.KindDeployment, "web"))
	f = p.Frame(0, 0)
	if !strings.Contains(f[0], "2 statefulsets: 2 Running") || !strings.HasPrefix(f[2], "db ") {
		t.Errorf("StatefulSets alone:\n%s", strings.Join(f, "\n"))
	}
}

func TestStreamKinds(t *testing.T) {
	var out bytes.Buffer
	p := NewStream(&out, Options{})
	p.OnEvent(kindEvent(deployment.Added, deployment.KindDeployment, "web"))
	p.OnEvent(kindEvent(deployment.Added, deployment.KindDaemonSet, "agent"))
	p.OnSynced(nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "deploy/web ") || !strings.HasPrefix(lines[2], "ds/agent ") {
		t.Errorf("first table:\n%s", out.String())
	}

	out.Reset()
	one := NewStream(&out, Options{})
	one.OnEvent(kindEvent(deployment.Added, deployment.KindDeployment, "web"))
	one.OnSynced(nil)
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); !strings.HasPrefix(lines[1], "web ") {
		t.Errorf("one kind:\n%s", out.String())
	}
}
