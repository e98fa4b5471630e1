package printers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// rolloutEnd is the MODIFIED event of web's rollout to revision 3 ending
// and the ROLLOUT event after it.
func rolloutEnd(name string) (deployment.Event, deployment.Event) {
	e := event(deployment.Modified, "shop", name, deployment.Running, 1, 1, "nginx:2")
	e.LastRollout = &deployment.RolloutCost{Revision: "3", Outcome: deployment.RolloutComplete, Start: t0, End: t0.Add(8 * time.Second),
		DurationSeconds: 8, Services: []deployment.RolloutService{{Service: "api-svc", Fewest: 0, GapSeconds: 6.1}}, GapSeconds: 6.1}
	e.Changed = []string{"status", "lastRollout"}
	r := e
	r.Type, r.Changed = deployment.Rollout, []string{}
	return e, r
}

const webCost = "deployment shop/web: rollout to revision 3 complete in 8s; ready endpoints at the fewest: api-svc 0; serving gap 6.1s in all"

// TestRolloutLinePiped: piped, a ROLLOUT event is a line on stderr and
// no row (the MODIFIED before it showed the row); NDJSON writes it as a
// line of its own type.
func TestRolloutLinePiped(t *testing.T) {
	var out, errOut bytes.Buffer
	s := NewStream(&out, Options{})
	sink := RolloutNotice(s, &errOut)
	sink.OnSynced(nil)
	modified, rollout := rolloutEnd("web")
	sink.OnEvent(modified)
	rows := out.String()
	sink.OnEvent(rollout)
	if out.String() != rows || strings.Count(rows, "\n") != 2 {
		t.Errorf("stdout %q: the header and one row, none for the ROLLOUT", out.String())
	}
	if errOut.String() != webCost+"\n" {
		t.Errorf("stderr %q, want %q", errOut.String(), webCost)
	}

	var nd bytes.Buffer
	NewNDJSON(&nd).OnEvent(rollout)
	var back map[string]any
	if err := json.Unmarshal(nd.Bytes(), &back); err != nil || back["type"] != "ROLLOUT" {
		t.Fatalf("NDJSON %s: %v", nd.String(), err)
	}
	if lr, ok := back["lastRollout"].(map[string]any); !ok || lr["gapSeconds"] != 6.1 || lr["revision"] != "3" {
		t.Errorf("lastRollout %v", back["lastRollout"])
	}
}

// TestRolloutLinesUnderTheLiveTitle: the live table shows the latest
// rollouts' lines under its title, one per Deployment, two at most.
func TestRolloutLinesUnderTheLiveTitle(t *testing.T) {
	p := NewLive(&syncWriter{}, Options{Now: func() time.Time { return t0 }}, "deployments", func() (int, int) { return 0, 0 })
	defer p.Close()
	p.OnSynced(nil)
	for _, name := range []string{"web", "api", "db"} {
		m, r := rolloutEnd(name)
		p.OnEvent(m)
		p.OnEvent(r)
	}
	m, r := rolloutEnd("web")
	p.OnEvent(m)
	p.OnEvent(r)
	f := p.Frame(0, 0)
	if !strings.HasPrefix(f[1], "  deployment shop/db: rollout to revision 3") || f[2] != "  "+webCost || !strings.HasPrefix(f[3], "NAME") {
		t.Errorf("frame:\n%s", strings.Join(f, "\n"))
	}
	if len(f) != 7 {
		t.Errorf("%d lines, want title, two rollouts, header and three rows:\n%s", len(f), strings.Join(f, "\n"))
	}
}
