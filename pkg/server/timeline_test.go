package server

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
)

// TestTimeline: a namespace nobody follows has no timeline, and asking
// starts no tracker; followed, a Deployment has none until its template
// changes, then the rollout that change began.
func TestTimeline(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 1))
	const path = "/api/namespaces/shop/deployments/web/timeline"
	var got timelineBody
	getJSON(t, f, path, &got)
	if got.Following || got.Rollout != nil || f.hub.Running("shop") {
		t.Fatalf("not followed: %+v; tracker running %v", got, f.hub.Running("shop"))
	}
	viewer, err := f.hub.Subscribe(context.Background(), "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	got = timelineBody{}
	getJSON(t, f, path, &got)
	if !got.Following || got.Since.IsZero() || got.Rollout != nil || got.Name != "web" {
		t.Fatalf("followed, no rollout yet: %+v", got)
	}
	deps := f.client.AppsV1().Deployments("shop")
	d, err := deps.Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	d.Generation++
	if _, err := deps.Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the rollout in the timeline", func() bool {
		got = timelineBody{}
		getJSON(t, f, path, &got)
		return got.Rollout != nil
	})
	if r := got.Rollout; r.Start.Before(got.Since) || len(r.Points) == 0 || r.Ended() {
		t.Errorf("rollout %+v, want one under way, begun after %v", r, got.Since)
	}
}
