package printers

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/safety"
)

func warned(e deployment.Event, ids ...string) deployment.Event {
	for _, id := range ids {
		e.Warnings = append(e.Warnings, deployment.Warning{ID: id, Level: safety.Warning, Message: "m", Fix: "f"})
	}
	return e
}

// TestWarningMark: a row with warnings starts its MESSAGE with "!N"; the
// live title counts those rows; a row without shows no mark.
func TestWarningMark(t *testing.T) {
	var out bytes.Buffer
	p := NewStream(&out, Options{Serving: true})
	p.OnEvent(warned(served(deployment.Added, false), safety.RolloutDropsAllPods, safety.NoPreStop))
	calm := served(deployment.Added, false)
	calm.Name, calm.Message = "calm", ""
	p.OnEvent(calm)
	p.OnSynced(nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[1], "   !2 0 of 1 replicas available") {
		t.Fatalf("want the mark before the message:\n%s", out.String())
	}
	if strings.Contains(lines[2], "!") {
		t.Errorf("a row without warnings is marked: %q", lines[2])
	}

	l := NewLive(&syncWriter{}, Options{Serving: true, Color: true, Now: func() time.Time { return t0 }}, "shop", func() (int, int) { return 0, 0 })
	defer l.Close()
	l.OnEvent(warned(served(deployment.Added, false), safety.NoPreStop))
	l.OnEvent(calm)
	l.OnSynced(nil)
	f := l.Frame(0, 0)
	if !strings.HasSuffix(f[0], " · !1 with warnings") {
		t.Errorf("title %q does not count the rows with warnings", f[0])
	}
	if !strings.Contains(strings.Join(f, "\n"), "\x1b[33m!1\x1b[0m 0 of 1 replicas available") {
		t.Errorf("the mark is not yellow:\n%s", strings.Join(f, "\n"))
	}
	fixed := served(deployment.Modified, false)
	l.OnEvent(fixed)
	if f := l.Frame(0, 0); strings.Contains(f[0], "with warnings") {
		t.Errorf("title %q still counts warnings once they went", f[0])
	}
}
