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
	got, err := Autoscalers(context.Background(), c.AutoscalingV2(), "shop", Deployment, "web")
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

// TestAutoscalersOfAStatefulSet: a StatefulSet's autoscalers are those
// that target it, not a Deployment of the same name's.
func TestAutoscalersOfAStatefulSet(t *testing.T) {
	c := fake.NewClientset(
		hpa("web-deploy", "apps/v1", "Deployment", "web", int32p(2), 10),
		hpa("web-sts", "apps/v1", "StatefulSet", "web", nil, 3),
		hpa("web-ext", "extensions/v1beta1", "StatefulSet", "web", nil, 3), // never served there
	)
	got, err := Autoscalers(context.Background(), c.AutoscalingV2(), "shop", StatefulSet, "web")
	if want := []Autoscaler{{"web-sts", 1, 3}}; err != nil || !slices.Equal(got, want) {
		t.Errorf("autoscalers = %+v (%v), want %+v", got, err, want)
	}
	res := Result{Kind: StatefulSet, Namespace: "shop", Name: "web", Changed: true}
	NoteAutoscalers(context.Background(), c.AutoscalingV2(), &res)
	if want := `HorizontalPodAutoscaler "web-sts" (min 1, max 3 replicas) targets statefulset "web" in namespace "shop" and will undo this change of its replicas`; !strings.HasPrefix(res.Warning, want) {
		t.Errorf("warning %q, want it to start %q", res.Warning, want)
	}
	c = fake.NewClientset(hpa("web-deploy", "apps/v1", "Deployment", "web", int32p(2), 10))
	res = Result{Kind: StatefulSet, Namespace: "shop", Name: "web", Changed: true}
	NoteAutoscalers(context.Background(), c.AutoscalingV2(), &res)
	if res.Warning != "" || res.Autoscalers != nil {
		t.Errorf("a Deployment's autoscaler warned of a StatefulSet of its name: %q", res.Warning)
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
