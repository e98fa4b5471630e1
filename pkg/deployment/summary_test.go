package deployment

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

func TestChanged(t *testing.T) {
	base := Summary{Status: Running, Replicas: Replicas{Desired: 3, Current: 3, Updated: 3, Ready: 3, Available: 3}, Containers: []Container{{"web", "nginx:1.25"}}, Generation: 1, ObservedGeneration: 1, ResourceVersion: "10"}
	tests := []struct {
		name   string
		modify func(*Summary)
		want   []string
	}{
		{"nothing a user reads", func(s *Summary) { s.ResourceVersion = "11"; s.Generation = 2; s.ObservedGeneration = 2 }, nil},
		{"status and message", func(s *Summary) { s.Status = Degraded; s.Message = "2 of 3" }, []string{"status", "message"}},
		{"every count", func(s *Summary) { s.Replicas = Replicas{4, 4, 4, 4, 4, 1} }, []string{"replicas.desired", "replicas.current", "replicas.updated", "replicas.ready", "replicas.available", "replicas.unavailable"}},
		{"an image", func(s *Summary) { s.Containers = []Container{{"web", "nginx:1.26"}} }, []string{"containers"}},
		{"a container added", func(s *Summary) { s.Containers = append(slices.Clone(s.Containers), Container{"log", "busybox"}) }, []string{"containers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := base
			next.Containers = slices.Clone(base.Containers)
			tt.modify(&next)
			if got := Changed(&base, &next); !slices.Equal(got, tt.want) {
				t.Errorf("Changed = %v, want %v", got, tt.want)
			}
		})
	}
}

// The NDJSON schema is an interface scripts depend on: this pins its keys.
func TestEventJSONSchema(t *testing.T) {
	e := Event{
		Type: Modified, Time: time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC),
		Summary: Summary{Namespace: "shop", Name: "web", Status: Running, Replicas: Replicas{3, 3, 3, 3, 3, 0},
			Containers: []Container{{"web", "nginx:1.25"}}, Generation: 2, ObservedGeneration: 2, ResourceVersion: "42", UID: "secret",
			Since: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)},
		Changed: []string{"replicas.ready"},
	}
	got, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"MODIFIED","time":"2026-11-23T01:02:03Z","namespace":"shop","name":"web","status":"Running","message":"","replicas":{"desired":3,"current":3,"updated":3,"ready":3,"available":3,"unavailable":0},"containers":[{"name":"web","image":"nginx:1.25"}],"generation":2,"observedGeneration":2,"resourceVersion":"42","since":"2026-11-22T09:00:00Z","changed":["replicas.ready"]}`
	if string(got) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", got, want)
	}
}

// The kind is only added: after the context, before the namespace.
func TestEventJSONKind(t *testing.T) {
	got, err := json.Marshal(Event{Type: Added, Summary: Summary{Kind: KindStatefulSet, Namespace: "shop", Name: "db"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), `{"type":"ADDED","time":"0001-01-01T00:00:00Z","kind":"StatefulSet","namespace":"shop","name":"db",`) {
		t.Errorf("JSON %s", got)
	}
}

// TestSteadyKeepsOneProblemsWording: inside one crash loop or image pull
// failure, a new restart count or the kubelet's alternating reason is no
// change, but a problem that spreads to another pod is.
func TestSteadyKeepsOneProblemsWording(t *testing.T) {
	d := dep{desired: 3, replicas: 4, updated: 2, available: 2, progressing: rsUpdated}.build()
	diag := func(reason, msg string, pods int, restarts int32) *Diagnosis {
		return &Diagnosis{Known: true, Problems: []diagnosis.Problem{{Reason: reason, Message: msg, Pod: "web-1", Pods: pods, Container: "web", Restarts: restarts}}}
	}
	prev := Summarize(d, diag("ErrImagePull", "failed to pull: not found", 2, 0))
	next := Summarize(d, diag("ImagePullBackOff", `Back-off pulling image "x"`, 2, 3))
	Steady(&prev, &next)
	if changed := Changed(&prev, &next); len(changed) != 0 {
		t.Errorf("the kubelet's back-off changed %v: %q -> %q", changed, prev.Message, next.Message)
	}
	if next.Problems[0].Restarts != 3 {
		t.Errorf("restarts %d, want the latest, 3", next.Problems[0].Restarts)
	}
	spread := Summarize(d, diag("ImagePullBackOff", `Back-off pulling image "x"`, 3, 0))
	Steady(&prev, &spread)
	if changed := Changed(&prev, &spread); !slices.Equal(changed, []string{"message", "problems"}) {
		t.Errorf("a problem on a third pod changed %v, want message and problems", changed)
	}
	// The message counts the new pods: one more, the same problem, is a
	// new count, not the old wording.
	more := dep{desired: 3, replicas: 4, updated: 3, available: 2, progressing: rsUpdated}.build()
	grown := Summarize(more, diag("ErrImagePull", "failed to pull: not found", 2, 0))
	Steady(&prev, &grown)
	if !strings.Contains(grown.Message, "2 of 3 new pods") || !slices.Contains(Changed(&prev, &grown), "message") {
		t.Errorf("a third new pod: message %q (was %q), want it counted", grown.Message, prev.Message)
	}
}

func BenchmarkSummarize(b *testing.B) {
	d := dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: complete}.build()
	b.ReportAllocs()
	for b.Loop() {
		_ = Summarize(d, nil)
	}
}

func BenchmarkChangedUnchanged(b *testing.B) {
	d := dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: complete}.build()
	prev, next := Summarize(d, nil), Summarize(d, nil)
	b.ReportAllocs()
	for b.Loop() {
		if Changed(&prev, &next) != nil {
			b.Fatal("changed")
		}
	}
}
