package server

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// TestContextsHealthCoversEveryContext: with several contexts, /readyz
// names the one whose API server does not answer and stays 200 while
// another serves; /metrics labels each context's metrics and says which is
// ready; with every context down /readyz is 503.
func TestContextsHealthCoversEveryContext(t *testing.T) {
	f, clients := newContextsFixture(t, "west")
	down := map[string]*atomic.Bool{}
	for name, c := range clients {
		down[name] = new(atomic.Bool)
		c.PrependReactor("get", "version", func(k8stesting.Action) (bool, runtime.Object, error) {
			if down[name].Load() {
				return true, nil, errors.New("connection refused")
			}
			return false, nil, nil
		})
	}
	readyz := func() (int, map[string]any) {
		t.Helper()
		resp, err := f.ts.Client().Get(f.ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	metrics := func() string {
		t.Helper()
		resp, err := f.ts.Client().Get(f.ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	state := func(body map[string]any) string {
		var out []string
		for _, c := range body["contexts"].([]any) {
			m := c.(map[string]any)
			out = append(out, m["context"].(string)+"="+m["status"].(string))
		}
		return strings.Join(out, ",")
	}

	if code, body := readyz(); code != 200 || body["status"] != "ready" || state(body) != "east=ready,west=ready" {
		t.Fatalf("/readyz, both up: %d %v", code, body)
	}
	m := metrics()
	for _, want := range []string{
		`deploywatch_context_ready{context="east"} 1`, `deploywatch_context_ready{context="west"} 1`,
		`deploywatch_sse_clients{context="east"} 0`, `deploywatch_sse_clients{context="west"} 0`,
		`deploywatch_upstream_watches{context="west",state="lost"} 0`,
		"go_goroutines ", // the process's, once and unlabelled
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, m)
		}
	}

	// The readiness answers are kept for readyTTL: forget them to see the
	// change now.
	down["west"].Store(true)
	for _, s := range []*Server{f.contexts.servers["east"], f.contexts.servers["west"]} {
		s.ready.forget("")
	}
	code, body := readyz()
	if code != 200 || body["status"] != "degraded" || state(body) != "east=ready,west=unready" {
		t.Fatalf("/readyz, west down: %d %v", code, body)
	}
	west := body["contexts"].([]any)[1].(map[string]any)
	if west["reason"] != "APIServerUnreachable" || !strings.Contains(west["error"].(string), "connection refused") {
		t.Errorf("west's line %v, want APIServerUnreachable with the cause", west)
	}
	if m := metrics(); !strings.Contains(m, `deploywatch_context_ready{context="west"} 0`) || !strings.Contains(m, `deploywatch_context_ready{context="east"} 1`) {
		t.Errorf("/metrics with west down:\n%s", m)
	}

	down["east"].Store(true)
	f.contexts.servers["east"].ready.forget("")
	if code, body := readyz(); code != 503 || body["reason"] != "NoContextReady" || !strings.Contains(body["error"].(string), "east: ") {
		t.Fatalf("/readyz, both down: %d %v", code, body)
	}

	// Other methods are the default context's 405, as for one context.
	resp, err := f.ts.Client().Post(f.ts.URL+"/readyz", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST /readyz: %d, want 405", resp.StatusCode)
	}
}
