package operations

import (
	"context"
	"slices"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

func hpa(name, apiVersion, kind, target string, min *int32, max int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: apiVersion, Kind: kind, Name: target},
			MinReplicas:    min, MaxReplicas: max,
		},
	}
}

func TestAutoscalers(t *testing.T) {
	c := fake.NewClientset(
		hpa("web-cpu", "apps/v1", "Deployment", "web", int32p(2), 10),
		hpa("web-old", "extensions/v1beta1", "Deployment", "web", nil, 4), // minReplicas defaults to 1
		hpa("api", "apps/v1", "Deployment", "api", int32p(1), 3),
		hpa("web-sts", "apps/v1", "StatefulSet", "web", int32p(1), 3),
		hpa("web-crd", "example.com/v1", "Deployment", "web", int32p(1), 3),
	)
	got, err := Autoscalers(context.Background(), c.AutoscalingV2(), "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []Autoscaler{{"web-cpu", 2, 10}, {"web-old", 1, 4}}
	if !slices.Equal(got, want) {
		t.Errorf("autoscalers = %+v, want %+v", got, want)
	}

	res := Result{Namespace: "shop", Name: "web", Changed: true}
	NoteAutoscalers(context.Background(), c.AutoscalingV2(), &res)
	for _, w := range []string{`HorizontalPodAutoscalers "web-cpu" (min 2, max 10 replicas) and "web-old" (min 1, max 4 replicas)`,
		`targets deployment "web" in namespace "shop" and will undo this change of its replicas`,
		"change the HorizontalPodAutoscaler's minReplicas and maxReplicas instead", "kubectl patch hpa web-cpu -n shop"} {
		if !strings.Contains(res.Warning, w) {
			t.Errorf("warning %q does not say %q", res.Warning, w)
		}
	}
	if strings.Contains(res.Warning, "\n") || !slices.Equal(res.Autoscalers, want) {
		t.Errorf("warning %q is not one line, or autoscalers %+v", res.Warning, res.Autoscalers)
	}
}

// TestNoteAutoscalersQuiet: no warning when nothing changes (and no request),
// and none, without failing, when the user may not list HPAs.
func TestNoteAutoscalersQuiet(t *testing.T) {
	c := fake.NewClientset(hpa("web", "apps/v1", "Deployment", "web", int32p(2), 10))
	res := Result{Namespace: "shop", Name: "web"}
	NoteAutoscalers(context.Background(), c.AutoscalingV2(), &res)
	if res.Warning != "" || len(c.Actions()) != 0 {
		t.Errorf("unchanged: warning %q, %d requests", res.Warning, len(c.Actions()))
	}
	c.PrependReactor("list", "horizontalpodautoscalers", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}, "", nil)
	})
	res.Changed = true
	NoteAutoscalers(context.Background(), c.AutoscalingV2(), &res)
	if res.Warning != "" || res.Autoscalers != nil {
		t.Errorf("forbidden: warning %q, autoscalers %+v", res.Warning, res.Autoscalers)
	}
}

// TestWaitEndsWhenScaledByOther: a replica count other than the one the
// scale set, at or after the scale's resourceVersion, ends the wait with a
// Conflict naming the autoscaler; before it, it is the old state and
// waited past. Where resourceVersions do not compare, a count seen after
// the scale's own counts.
func TestWaitEndsWhenScaledByOther(t *testing.T) {
	as := []Autoscaler{{"web", 2, 4}}
	ev := func(rv string, desired int32) deployment.Event {
		return deployment.Event{Type: deployment.Modified, Summary: deployment.Summary{Namespace: "shop", Name: "web",
			Generation: 6, ObservedGeneration: 5, ResourceVersion: rv, Replicas: deployment.Replicas{Desired: desired}, Status: deployment.Scaling}}
	}
	tests := []struct {
		name   string
		req    WaitRequest
		events []deployment.Event
		done   bool
		says   []string
	}{
		{"older state", WaitRequest{Replicas: int32p(8), ResourceVersion: "100", Autoscalers: as},
			[]deployment.Event{ev("99", 3)}, false, nil},
		{"the autoscaler's count after the scale", WaitRequest{Replicas: int32p(8), ResourceVersion: "100", Autoscalers: as},
			[]deployment.Event{ev("99", 3), ev("100", 8), ev("120", 4)}, true,
			[]string{`deployment "web" in namespace "shop" was scaled to 4 replicas by someone else while waiting for 8: HorizontalPodAutoscaler "web" (min 2, max 4 replicas) sets its replicas`,
				"kubectl patch hpa web -n shop"}},
		{"the autoscaler was first", WaitRequest{Replicas: int32p(8), ResourceVersion: "100", Autoscalers: as},
			[]deployment.Event{ev("101", 4)}, true, []string{"scaled to 4 replicas by someone else"}},
		{"no autoscaler known", WaitRequest{Replicas: int32p(8), ResourceVersion: "100"},
			[]deployment.Event{ev("101", 5)}, true, []string{"scaled to 5 replicas by someone else while waiting for 8", "--show-managed-fields"}},
		{"versions that do not compare: unknown order", WaitRequest{Replicas: int32p(8), ResourceVersion: "x1"},
			[]deployment.Event{ev("x0", 3)}, false, nil},
		{"versions that do not compare: after the scale's own", WaitRequest{Replicas: int32p(8), ResourceVersion: "x1"},
			[]deployment.Event{ev("x0", 3), ev("x1", 8), ev("x2", 4)}, true, []string{"scaled to 4 replicas by someone else"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Namespace, tt.req.Name = "shop", "web"
			w := &waiter{req: tt.req, stop: func() {}, synced: true}
			for _, e := range tt.events {
				w.OnEvent(e)
			}
			if w.done != tt.done {
				t.Fatalf("done = %v, want %v (err %v)", w.done, tt.done, w.err)
			}
			if !tt.done {
				return
			}
			if ReasonOf(w.err) != Conflict {
				t.Errorf("reason of %v = %q, want Conflict", w.err, ReasonOf(w.err))
			}
			for _, s := range tt.says {
				if !strings.Contains(w.err.Error(), s) {
					t.Errorf("error %q does not say %q", w.err, s)
				}
			}
		})
	}
}
