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
	title := func(kinds []string, _ int) string { return deployment.KindsNoun(kinds) + ` in namespace "shop"` }
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

// On a narrow terminal what is watched gives way to the clock and the
// counts: first its short forms, then cut; the counts stay whole.
func TestLiveTitleNarrow(t *testing.T) {
	now := t0.Add(time.Minute)
	var rooms []int
	title := func(kinds []string, room int) string {
		rooms = append(rooms, room)
		for _, f := range []string{deployment.KindsNoun(kinds) + ` in namespace "payments-staging"`, `workloads in namespace "payments-staging"`} {
			if room <= 0 || len(f) <= room {
				return f
			}
		}
		return `namespace "payments-staging"`
	}
	p := NewLive(&syncWriter{}, Options{Now: func() time.Time { return now }, Title: title}, "unused", func() (int, int) { return 0, 0 })
	defer p.Close()
	p.OnSynced(nil)
	for _, k := range deployment.Kinds {
		p.OnEvent(kindEvent(deployment.Added, k, "web"))
	}
	const counts = " · 08:01:00 · 3 workloads: 3 Running"
	for _, c := range []struct {
		width int
		want  string
	}{
		{0, `deployments, statefulsets and daemonsets in namespace "payments-staging"` + counts},
		{120, `deployments, statefulsets and daemonsets in namespace "payments-staging"` + counts},
		{80, `workloads in namespace "payments-staging"` + counts},
		{60, `namespace "payments-sta…` + counts},
		{40, `namespace "payments-sta… · 08:01:00 · 3…`},
	} {
		rooms = nil
		if got := p.Frame(c.width, 0)[0]; got != c.want {
			t.Errorf("width %d: title %q, want %q", c.width, got, c.want)
		}
		if c.width > 0 && (len(rooms) != 1 || rooms[0] != max(c.width-len([]rune(counts)), minTitlePrefix)) {
			t.Errorf("width %d: Title asked with rooms %v", c.width, rooms)
		}
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
