package printers

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// served is api Progressing with Service api-svc (and web) selecting its
// pods; gap opens a gap on api-svc.
func served(typ deployment.EventType, gap bool) deployment.Event {
	e := event(typ, "shop", "api", deployment.Progressing, 0, 1, "app:2")
	e.Serving = []deployment.Serving{
		{Service: "web", Ready: 3, Endpoints: 3, Own: 0, Floor: 0},
		{Service: "api-svc", Ready: 0, Endpoints: 1, Terminating: 1, Own: 0, Floor: 0},
	}
	e.Message = "0 of 1 replicas available"
	if gap {
		e.Gaps = []deployment.Gap{{Service: "api-svc", Kind: deployment.GapNoReadyEndpoint, Start: t0, Revision: "12", Endpoints: 1}}
	}
	return e
}

func TestServingColumnAndGapMessage(t *testing.T) {
	at := t0.Local().Format(time.TimeOnly)
	var out bytes.Buffer
	p := NewStream(&out, Options{Serving: true})
	p.OnEvent(served(deployment.Added, true))
	p.OnSynced(nil)
	ended := served(deployment.Modified, false)
	ended.Status, ended.Message = deployment.Running, ""
	ended.Serving[1].Ready, ended.Serving[1].Own = 1, 1
	ended.LastGap = &deployment.Gap{Service: "api-svc", Start: t0, End: t0.Add(7 * time.Second), Revision: "12"}
	p.OnEvent(ended)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "AVAILABLE   SERVING   IMAGES") {
		t.Fatalf("want a header with SERVING after AVAILABLE and two rows:\n%s", out.String())
	}
	// The worst Service, ready of all endpoints; the gap before the status's message.
	if want := "0/1       app:2"; !strings.Contains(lines[1], want) {
		t.Errorf("row %q lacks %q", lines[1], want)
	}
	if want := "api-svc: 0 of 1 endpoint ready since " + at + ", during the rollout to revision 12; 0 of 1 replicas available"; !strings.HasSuffix(lines[1], want) {
		t.Errorf("row %q does not end with %q", lines[1], want)
	}
	if want := "1/1       app:2"; !strings.Contains(lines[2], want) || !strings.HasSuffix(lines[2], "last gap 7s during revision 12 (api-svc, 0 ready at the fewest)") {
		t.Errorf("row after the gap %q", lines[2])
	}

	var wide bytes.Buffer
	w := NewStream(&wide, Options{Serving: true, Wide: true})
	w.OnEvent(served(deployment.Added, false))
	w.OnSynced(nil)
	if !strings.Contains(wide.String(), " web=3/3,api-svc=0/1 ") {
		t.Errorf("-o wide does not name every Service:\n%s", wide.String())
	}

	for _, tc := range []struct {
		name string
		edit func(*deployment.Event)
		want string
	}{
		{"no Service", func(e *deployment.Event) { e.Serving, e.Gaps = nil, nil }, "<none>"},
		{"unknown", func(e *deployment.Event) { e.Serving, e.ServingUnknown = nil, "cannot list services: forbidden" }, "?"},
		{"a Service that selects no pod any more", func(e *deployment.Event) {
			e.Serving = nil
			e.Gaps = []deployment.Gap{{Service: "shop", Kind: deployment.GapSelectsNoPod, Start: t0}}
		}, "shop=0/0"},
	} {
		e := served(deployment.Added, true)
		tc.edit(&e)
		if got := servingCell(&e.Summary, false); got != tc.want {
			t.Errorf("%s: cell %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLiveShowsGapsInTheTitleAndTheirColour(t *testing.T) {
	at := t0.Local().Format(time.TimeOnly)
	p := NewLive(&syncWriter{}, Options{Serving: true, Color: true, Now: func() time.Time { return t0 }}, "t", func() (int, int) { return 0, 0 })
	defer p.Close()
	p.OnEvent(served(deployment.Added, true))
	p.OnSynced(nil)
	p.OnServiceGaps([]deployment.ServiceGap{{Namespace: "shop", Gap: deployment.Gap{Service: "typo", Kind: deployment.GapSelectsNoPod, Start: t0}}})
	f := p.Frame(0, 0)
	if !strings.HasSuffix(f[0], " · 1 deployment: 1 Progressing · 2 serving gaps") {
		t.Errorf("title %q, want the gaps counted", f[0])
	}
	if want := "\x1b[" + gapColor + "m  shop/typo: selects no pod since " + at + "\x1b[0m"; f[1] != want {
		t.Errorf("line under the title %q, want %q", f[1], want)
	}
	if !strings.Contains(f[3], "\x1b["+gapColor+"m0/1\x1b[0m") || !strings.Contains(f[3], "\x1b[36mProgressing\x1b[0m") {
		t.Errorf("row %q: want SERVING in the gap's colour, STATUS in its own", f[3])
	}

	// While the EndpointSlices' watch is lost, serving is unknown.
	p.OnHealth(tracker.Health{State: tracker.Reconnecting, Since: t0, Err: errors.New("refused"), Resource: "endpointslices", Lost: []string{"endpointslices"}})
	if f := p.Frame(0, 0); !strings.Contains(f[3], "m?\x1b[0m ") {
		t.Errorf("row while serving's watch is lost %q, want ?", f[3])
	}
	p.OnHealth(tracker.Health{State: tracker.Reconnecting, Since: t0, Err: errors.New("refused"), Resource: "events", Lost: []string{"events"}})
	if f := p.Frame(0, 0); !strings.Contains(f[3], "m0/1\x1b[0m ") {
		t.Errorf("row while only events are lost %q, want the count", f[3])
	}

	unknown := served(deployment.Modified, false)
	unknown.Serving, unknown.ServingUnknown = nil, "cannot list endpointslices: forbidden"
	p.OnEvent(unknown)
	p.OnServiceGaps(nil)
	if f := p.Frame(0, 0); !strings.HasSuffix(f[0], " · serving unknown: cannot list endpointslices: forbidden") {
		t.Errorf("title %q, want serving unknown", f[0])
	}
}

func TestServiceGapNotice(t *testing.T) {
	var out bytes.Buffer
	tell := ServiceGapNotice(&out)
	g := deployment.ServiceGap{Namespace: "shop", Gap: deployment.Gap{Service: "typo", Kind: deployment.GapSelectsNoPod, Start: t0, OpenAtStart: true}}
	tell([]deployment.ServiceGap{g})
	tell([]deployment.ServiceGap{g})
	tell(nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || lines[0] != "warning: serving gap: shop/typo: selects no pod since before "+t0.Local().Format(time.TimeOnly) ||
		!strings.HasPrefix(lines[1], "warning: the serving gap of shop/typo ended at ") {
		t.Errorf("notice:\n%s", out.String())
	}
}

func TestLiveBoundsTheServiceGapLines(t *testing.T) {
	p := NewLive(&syncWriter{}, Options{Serving: true, Now: func() time.Time { return t0 }}, "t", func() (int, int) { return 0, 0 })
	defer p.Close()
	p.OnSynced(nil)
	var gaps []deployment.ServiceGap
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		gaps = append(gaps, deployment.ServiceGap{Namespace: "shop", Gap: deployment.Gap{Service: name, Kind: deployment.GapSelectsNoPod, Start: t0}})
	}
	p.OnServiceGaps(gaps)
	f := p.Frame(0, 0)
	if len(f) < 4 || !strings.HasPrefix(f[1], "  shop/a: ") || !strings.HasPrefix(f[2], "  shop/b: ") || f[3] != "  … and 3 more Services that select no pod" {
		t.Errorf("frame:\n%s", strings.Join(f, "\n"))
	}
	if !strings.HasSuffix(f[0], " · 5 serving gaps") {
		t.Errorf("title %q", f[0])
	}
}
