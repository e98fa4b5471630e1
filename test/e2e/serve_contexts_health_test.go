package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// testServeContextsHealth: serve --context east,west's /readyz and
// /metrics cover both contexts. West's API server stopped: /readyz stays
// 200, says degraded and names west as unreachable;
// deploywatch_context_ready is 0 for west and 1 for east, and each
// context's series carry its name. West back: both ready again.
func testServeContextsHealth(t *testing.T, b *ctxBed) {
	p := startServeEnv(t, b.cs.Env(), "--context", "east,west")
	type line struct{ Context, Status, Reason, Error string }
	readyz := func() (int, string, []line) {
		t.Helper()
		status, body := p.request(t, "GET", "/readyz", "", nil)
		var r struct {
			Status, Reason string
			Contexts       []line
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("/readyz: %d %s: %v", status, body, err)
		}
		return status, r.Status, r.Contexts
	}
	states := func(ls []line) string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Context+"="+l.Status)
		}
		return strings.Join(out, ",")
	}
	metrics := func() string {
		t.Helper()
		status, body := p.request(t, "GET", "/metrics", "", nil)
		if status != 200 {
			t.Fatalf("/metrics: %d %s", status, body)
		}
		return string(body)
	}

	if status, s, ls := readyz(); status != 200 || s != "ready" || states(ls) != "east=ready,west=ready" {
		t.Fatalf("/readyz with both up: %d %s %v", status, s, ls)
	}
	m := metrics()
	for _, c := range b.cs.Names {
		for _, want := range []string{
			`deploywatch_context_ready{context="` + c + `"} 1`,
			`deploywatch_sse_clients{context="` + c + `"} 0`,
			// Each context's requests, the start's checks at least.
			`deploywatch_kube_requests_total{code="201",context="` + c + `",resource="selfsubjectaccessreviews",verb="create"}`,
		} {
			opsContains(t, "/metrics", m, want)
		}
	}

	west := b.cs.Clusters["west"]
	if err := west.StopCluster(); err != nil {
		t.Fatal(err)
	}
	var ls []line
	testutil.Eventually(t, time.Minute, "/readyz to name west as unready", func() bool {
		var status int
		var s string
		status, s, ls = readyz()
		if status != 200 {
			t.Fatalf("/readyz with east up: %d %s %v, want 200", status, s, ls)
		}
		return s == "degraded" && states(ls) == "east=ready,west=unready"
	})
	if ls[1].Reason != "APIServerUnreachable" || ls[1].Error == "" {
		t.Errorf("west's line %+v, want APIServerUnreachable and the cause", ls[1])
	}
	m = metrics()
	opsContains(t, "/metrics", m, `deploywatch_context_ready{context="west"} 0`, `deploywatch_context_ready{context="east"} 1`)

	if err := west.StartComponents(); err != nil {
		t.Fatal(err)
	}
	if _, err := west.StartIfExited(testbed.ControllerManager); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Minute, "/readyz to say both are ready again", func() bool {
		status, s, ls := readyz()
		return status == 200 && s == "ready" && states(ls) == "east=ready,west=ready"
	})
	opsContains(t, "/metrics", metrics(), `deploywatch_context_ready{context="west"} 1`)
}
