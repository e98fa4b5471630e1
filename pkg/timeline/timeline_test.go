package timeline

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

var t0 = time.Date(2026, 12, 7, 14, 2, 0, 0, time.UTC)

// ev is Deployment web at t0+sec: its status, revision, image, ready pods
// of one desired, and Service web-svc's ready endpoints (all its own).
func ev(sec int, status deployment.Status, rev int64, image string, ready, endpoints int32) deployment.Event {
	gen := int64(1)
	return deployment.Event{Type: deployment.Modified, Time: t0.Add(time.Duration(sec) * time.Second), Summary: deployment.Summary{
		Namespace: "shop", Name: "web", Status: status, Revision: rev,
		Generation: gen, ObservedGeneration: gen,
		Replicas:   deployment.Replicas{Desired: 1, Ready: ready, Updated: ready},
		Containers: []deployment.Container{{Name: "app", Image: image}},
		Serving:    []deployment.Serving{{Service: "web-svc", Ready: endpoints, Endpoints: endpoints, Own: endpoints, Floor: 0}},
	}}
}

func withGap(e deployment.Event, open bool, start, end int) deployment.Event {
	g := deployment.Gap{Service: "web-svc", Kind: deployment.GapNoReadyEndpoint, Start: t0.Add(time.Duration(start) * time.Second), Revision: "2"}
	if open {
		e.Gaps = []deployment.Gap{g}
	} else {
		g.End = t0.Add(time.Duration(end) * time.Second)
		e.LastGap = &g
	}
	return e
}

// TestSlowStartRollout: the rollout of issue 26's case (a), as the
// summaries tell it: the image changes, the controller numbers revision
// 2, the only pod goes, the Service has no ready endpoint for 6 s, the new
// pod is ready (Running) before its endpoint is, and the gap ends after.
// The rollout begins at the image change, takes revision 2, ends at
// Running, and keeps its points until the gap ends.
func TestSlowStartRollout(t *testing.T) {
	rc := &Recorder{}
	first := ev(0, deployment.Running, 1, "app:v1", 1, 1)
	first.Type = deployment.Added
	rc.Observe(first)
	if r := rc.Get("web"); r != nil {
		t.Fatalf("a Deployment first seen Running has no rollout, got %+v", r)
	}
	changed := ev(10, deployment.Progressing, 1, "app:v2", 1, 1)
	changed.Generation = 2
	rc.Observe(changed)
	rc.Observe(ev(10, deployment.Progressing, 2, "app:v2", 1, 1))
	rc.Observe(withGap(ev(11, deployment.Progressing, 2, "app:v2", 0, 0), true, 11, 0))
	rc.Observe(withGap(ev(17, deployment.Running, 2, "app:v2", 1, 0), true, 11, 0))
	r := rc.Get("web")
	if r == nil || r.Revision != 2 || r.FromRevision != 1 || !r.Start.Equal(t0.Add(10*time.Second)) || r.StartUnseen {
		t.Fatalf("rollout %+v, want revision 1 to 2 from 14:02:10", r)
	}
	if !r.End.Equal(t0.Add(17*time.Second)) || r.Outcome != Complete {
		t.Errorf("end %v %q, want 14:02:17 complete", r.End, r.Outcome)
	}
	if len(r.Gaps) != 1 || !r.Gaps[0].Open() {
		t.Fatalf("gaps %+v, want web-svc's, open", r.Gaps)
	}
	rc.Observe(withGap(ev(18, deployment.Running, 2, "app:v2", 1, 1), false, 11, 18))
	rc.Observe(withGap(ev(30, deployment.Running, 2, "app:v2", 1, 1), false, 11, 18)) // after it all: not kept
	r = rc.Get("web")
	if len(r.Gaps) != 1 || !r.Gaps[0].End.Equal(t0.Add(18*time.Second)) {
		t.Errorf("gaps %+v, want web-svc's from :11 to :18", r.Gaps)
	}
	var ready, endpoints []int32
	for _, p := range r.Points {
		ready, endpoints = append(ready, p.Ready), append(endpoints, p.Serving[0].Ready)
	}
	if want := []int32{1, 1, 0, 1, 1}; !equal(ready, want) {
		t.Errorf("ready pods %v, want %v", ready, want)
	}
	if want := []int32{1, 1, 0, 0, 1}; !equal(endpoints, want) {
		t.Errorf("ready endpoints %v, want %v", endpoints, want)
	}
	// The JSON the page reads.
	b, _ := json.Marshal(r)
	var back map[string]any
	_ = json.Unmarshal(b, &back)
	for _, k := range []string{"revision", "fromRevision", "start", "end", "outcome", "points", "gaps"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON %s has no %q", b, k)
		}
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRolloutsReplaceAndEnd: a restart (a new revision, same images) is a
// rollout; a failed one ends failed; a new image during a numbered rollout
// replaces it; one under way when first seen begins unseen; a deleted
// Deployment's rollout is gone; a scale is no rollout.
func TestRolloutsReplaceAndEnd(t *testing.T) {
	rc := &Recorder{}
	rc.Observe(ev(0, deployment.Running, 1, "app:v1", 1, 1))
	rc.Observe(ev(5, deployment.Scaling, 1, "app:v1", 1, 1))
	rc.Observe(ev(6, deployment.Running, 1, "app:v1", 1, 1))
	if r := rc.Get("web"); r != nil {
		t.Fatalf("a scale made rollout %+v", r)
	}
	rc.Observe(ev(10, deployment.Running, 2, "app:v1", 1, 1)) // restart, numbered at once
	if r := rc.Get("web"); r == nil || r.Revision != 2 || !r.Start.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("restart: %+v, want revision 2 from :10", r)
	}
	rc.Observe(ev(20, deployment.Progressing, 3, "app:v2", 0, 0))
	rc.Observe(ev(25, deployment.Progressing, 4, "app:v3", 0, 0)) // replaced
	r := rc.Get("web")
	if r.Revision != 4 || r.FromRevision != 3 || !r.Start.Equal(t0.Add(25*time.Second)) {
		t.Fatalf("replaced: %+v, want revision 3 to 4 from :25", r)
	}
	rc.Observe(ev(40, deployment.Failed, 4, "app:v3", 0, 0))
	if r := rc.Get("web"); r.Outcome != Failed || !r.End.Equal(t0.Add(40*time.Second)) {
		t.Errorf("failed: %+v", r)
	}
	rc.Observe(deployment.Event{Type: deployment.Deleted, Summary: deployment.Summary{Name: "web"}})
	if r := rc.Get("web"); r != nil {
		t.Errorf("deleted, still %+v", r)
	}

	rc.Observe(ev(50, deployment.Progressing, 7, "app:v9", 0, 0))
	r = rc.Get("web")
	if r == nil || !r.StartUnseen || r.Revision != 7 || r.FromRevision != 0 {
		t.Fatalf("first seen rolling: %+v, want an unseen start from an unknown revision (0)", r)
	}
	rc.Observe(ev(51, deployment.Running, 7, "app:v9", 1, 1))
	if r := rc.Get("web"); r.Outcome != Complete {
		t.Errorf("unseen start, then Running: %+v", r)
	}
}

// TestBounds: a long rollout keeps at most MaxPoints points, its first
// and last among them, and at most MaxGaps gaps; Get's copy is the
// caller's.
func TestBounds(t *testing.T) {
	rc := &Recorder{}
	rc.Observe(ev(0, deployment.Running, 1, "app:v1", 1, 1))
	for i := 1; i <= 1000; i++ {
		e := ev(i, deployment.Progressing, 2, "app:v2", int32(i%2), 1)
		e.Gaps = []deployment.Gap{{Service: "s", Start: e.Time}}
		rc.Observe(e)
	}
	r := rc.Get("web")
	if len(r.Points) > MaxPoints || !r.Thinned || !r.Points[0].Time.Equal(t0.Add(time.Second)) || !r.Points[len(r.Points)-1].Time.Equal(t0.Add(1000*time.Second)) {
		t.Errorf("%d points from %v to %v, thinned %v; want at most %d, :01 to the last", len(r.Points), r.Points[0].Time, r.Points[len(r.Points)-1].Time, r.Thinned, MaxPoints)
	}
	for i := 1; i < len(r.Points); i++ {
		if !r.Points[i].Time.After(r.Points[i-1].Time) {
			t.Fatalf("points out of order at %d", i)
		}
	}
	if len(r.Gaps) != MaxGaps {
		t.Errorf("%d gaps, want %d", len(r.Gaps), MaxGaps)
	}
	r.Points[0].Ready = 99
	if rc.Get("web").Points[0].Ready == 99 {
		t.Errorf("Get returned the recorder's own points")
	}
}
