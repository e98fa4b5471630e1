package operations

import (
	"context"
	"slices"
	"strings"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestScale(t *testing.T) {
	const (
		get    = "get deployments/scale"
		update = "update deployments/scale"
	)
	tests := []struct {
		name     string
		req      ScaleRequest
		setup    func(*fake.Clientset)
		reason   Reason
		message  []string // substrings of the error
		verbs    []string
		changed  bool
		stored   int32  // spec.replicas afterwards
		sentRV   string // resourceVersion the update carried
		returned int32  // the result object's spec.replicas
	}{
		{name: "scales through the subresource", req: ScaleRequest{Replicas: 5},
			verbs: []string{get, update}, changed: true, stored: 5, returned: 5},
		{name: "same replicas write nothing", req: ScaleRequest{Replicas: 3},
			verbs: []string{get}, stored: 3, returned: 3},
		{name: "to zero", req: ScaleRequest{Replicas: 0},
			verbs: []string{get, update}, changed: true, stored: 0, returned: 0},
		{name: "current replicas holds", req: ScaleRequest{Replicas: 5, CurrentReplicas: int32p(3)},
			verbs: []string{get, update}, changed: true, stored: 5, sentRV: "7", returned: 5},
		{name: "current replicas does not hold", req: ScaleRequest{Replicas: 5, CurrentReplicas: int32p(2)},
			reason: Conflict, message: []string{`deployment "web" in namespace "shop" has 3 replicas, expected 2`, "nothing was changed"},
			verbs: []string{get}, stored: 3},
		{name: "resource version holds", req: ScaleRequest{Replicas: 5, ResourceVersion: "7"},
			verbs: []string{get, update}, changed: true, stored: 5, sentRV: "7", returned: 5},
		{name: "resource version does not hold", req: ScaleRequest{Replicas: 5, ResourceVersion: "6"},
			reason: Conflict, message: []string{"is at resourceVersion 7, expected 6"},
			verbs: []string{get}, stored: 3},
		{name: "client dry run reads only", req: ScaleRequest{Replicas: 5, DryRun: DryRunClient},
			verbs: []string{get}, changed: true, stored: 3, returned: 5},
		{name: "server dry run sends dryRun=All", req: ScaleRequest{Replicas: 5, DryRun: DryRunServer},
			verbs: []string{get, update}, changed: true, stored: 3, returned: 5},
		{name: "not found names deployment and namespace", req: ScaleRequest{Name: "nope", Replicas: 5},
			reason: NotFound, message: []string{`deployment "nope" not found in namespace "shop"`},
			verbs: []string{get}, stored: 3},
		{name: "forbidden says what is needed", req: ScaleRequest{Replicas: 5},
			setup: func(c *fake.Clientset) {
				c.PrependReactor("update", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments/scale"}, "web", nil)
				})
			},
			reason: Forbidden, message: []string{"forbidden", "scale needs get and update on deployments/scale", "kubectl auth can-i update deployments --subresource=scale -n shop"},
			verbs: []string{get, update}, stored: 3},
		{name: "every bad input at once, before any request", req: ScaleRequest{Namespace: "Bad_NS", Name: "", Replicas: -1, CurrentReplicas: int32p(-2), DryRun: "maybe"},
			reason: BadRequest, message: []string{`invalid namespace "Bad_NS"`, "no deployment name", "replicas must not be negative, got -1", "current replicas must not be negative", `unknown dry-run mode "maybe"`},
			stored: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeployment(3)
			d.ResourceVersion = "7"
			c := newClient(t, d)
			if tt.setup != nil {
				tt.setup(c)
			}
			req := tt.req
			if req.Namespace == "" {
				req.Namespace = "shop"
			}
			if req.Name == "" && tt.reason != BadRequest {
				req.Name = "web"
			}
			res, err := Scale(context.Background(), c.AppsV1(), req)
			if got := ReasonOf(err); got != tt.reason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tt.reason)
			}
			for _, m := range tt.message {
				if err == nil || !strings.Contains(err.Error(), m) {
					t.Errorf("error %v does not say %q", err, m)
				}
			}
			if got := verbs(c); !slices.Equal(got, tt.verbs) {
				t.Errorf("actions = %v, want %v", got, tt.verbs)
			}
			if got := *deploymentOf(t, c).Spec.Replicas; got != tt.stored {
				t.Errorf("stored replicas = %d, want %d", got, tt.stored)
			}
			for _, a := range c.Actions() {
				if u, ok := a.(k8stesting.UpdateActionImpl); ok {
					if rv := u.GetObject().(*autoscalingv1.Scale).ResourceVersion; rv != tt.sentRV {
						t.Errorf("update carried resourceVersion %q, want %q", rv, tt.sentRV)
					}
					wantDryRun := req.DryRun == DryRunServer
					if got := slices.Equal(u.UpdateOptions.DryRun, []string{metav1.DryRunAll}); got != wantDryRun {
						t.Errorf("update dryRun = %v, want dryRun=All: %v", u.UpdateOptions.DryRun, wantDryRun)
					}
				}
			}
			if err != nil {
				return
			}
			if res.Changed != tt.changed {
				t.Errorf("changed = %v, want %v", res.Changed, tt.changed)
			}
			if got := res.Object.(*autoscalingv1.Scale).Spec.Replicas; got != tt.returned {
				t.Errorf("result object replicas = %d, want %d", got, tt.returned)
			}
			if res.Replicas == nil || *res.Replicas != req.Replicas {
				t.Errorf("result replicas = %v, want %d", res.Replicas, req.Replicas)
			}
		})
	}
}

// TestScaleRace: a write that loses a race with another writer is not
// forced through: the scale is read again and the precondition re-checked.
func TestScaleRace(t *testing.T) {
	tests := []struct {
		name        string
		concurrent  int32 // replicas the other writer sets
		wantReason  Reason
		wantStored  int32
		wantUpdates int
	}{
		{name: "an unrelated change: retried and written", concurrent: 3, wantStored: 5, wantUpdates: 2},
		{name: "a concurrent scale breaks the precondition: conflict", concurrent: 4, wantReason: Conflict, wantStored: 4, wantUpdates: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeployment(3)
			d.ResourceVersion = "7"
			c := newClient(t, d)
			raced := false
			c.PrependReactor("update", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
				if !raced { // the other writer gets in between our read and our write
					raced = true
					other := deploymentOf(t, c).DeepCopy()
					other.Spec.Replicas = &tt.concurrent
					bumpResourceVersion(other)
					if err := c.Tracker().Update(deploymentsGVR, other, "shop"); err != nil {
						t.Fatal(err)
					}
				}
				return false, nil, nil
			})
			_, err := Scale(context.Background(), c.AppsV1(), ScaleRequest{Namespace: "shop", Name: "web", Replicas: 5, CurrentReplicas: int32p(3)})
			if got := ReasonOf(err); got != tt.wantReason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tt.wantReason)
			}
			if got := *deploymentOf(t, c).Spec.Replicas; got != tt.wantStored {
				t.Errorf("stored replicas = %d, want %d", got, tt.wantStored)
			}
			updates := 0
			for _, v := range verbs(c) {
				if v == "update deployments/scale" {
					updates++
				}
			}
			if updates != tt.wantUpdates {
				t.Errorf("%d updates sent, want %d: %v", updates, tt.wantUpdates, verbs(c))
			}
		})
	}
}
