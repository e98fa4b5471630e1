package tracker

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	policyv1client "k8s.io/client-go/kubernetes/typed/policy/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/safety"
)

// fakePolicy is the fake clientset's PolicyV1, which cannot stream lists
// either.
type fakePolicy struct {
	policyv1client.PolicyV1Interface
}

func (fakePolicy) IsWatchListSemanticsUnSupported() bool { return true }

func withPDBs(c *fake.Clientset, d *Diagnose) { d.PodDisruptionBudgets = fakePolicy{c.PolicyV1()} }

func ids(ws []deployment.Warning) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

// unsafeWeb is web with 2 pods that a rollout may all stop (maxSurge 0,
// maxUnavailable 2), a port and no readinessProbe, and a preStop sleep of
// 40 s beyond the default grace period of 30 s; with ready endpoints in
// slice web-a for a Service "web" to come.
func unsafeWeb() []runtime.Object {
	objs := servedDeployment("web", 2, intstr.FromInt32(0), intstr.FromInt32(2), nil)
	c := &objs[0].(*appsv1.Deployment).Spec.Template.Spec.Containers[0]
	c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 40}}}
	return append(objs, slice("web-a", "web", readyPods("web-1-0", "web-1-1")))
}

func webPDB() *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
}

// TestWarningsFollowServicesAndPDBs: the rules run again when a Service or
// a PodDisruptionBudget that selects the pods comes or goes, on what the
// informers keep (Strip leaves the rules what they read), and a change of
// warnings is an event, while a change that alters none is not.
func TestWarningsFollowServicesAndPDBs(t *testing.T) {
	r := startServingWith(t, withPDBs, []string{"services", "endpointslices", "deployments", "pods", "poddisruptionbudgets"}, unsafeWeb()...)
	ctx := context.Background()
	has := func(want ...string) func(deployment.Event) bool {
		return func(e deployment.Event) bool { return slices.Equal(ids(e.Warnings), want) }
	}
	first := r.last("web")
	if got, want := ids(first.Warnings), []string{safety.GraceShorterThanPreStop, safety.NoPDB}; !slices.Equal(got, want) {
		t.Fatalf("without a Service: warnings %v, want %v", got, want)
	}

	svc := service("web", map[string]string{"app": "web"})
	svc.Spec.Ports = []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}
	if _, err := r.client.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e := r.waitEvent("web", "warned of the Service", has(safety.RolloutDropsAllPods, safety.NoReadinessProbe, safety.GraceShorterThanPreStop, safety.NoPDB))
	if !slices.Contains(e.Changed, "warnings") {
		t.Errorf("changed %v, want warnings among them", e.Changed)
	}
	if w := e.Warnings[1]; w.Container != "app" || w.Level != safety.Warning || w.Fix == "" || w.Message == "" {
		t.Errorf("no-readiness-probe: %+v, want container app, level warning, a message and a fix", w)
	}

	pdbs := r.client.PolicyV1().PodDisruptionBudgets("shop")
	if _, err := pdbs.Create(ctx, webPDB(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e = r.waitEvent("web", "no longer wanting a PDB", has(safety.RolloutDropsAllPods, safety.NoReadinessProbe, safety.GraceShorterThanPreStop))
	if !slices.Equal(e.Changed, []string{"warnings"}) {
		t.Errorf("changed %v, want [warnings]", e.Changed)
	}

	// A change of the PDB that changes no warning is no event.
	n := r.count()
	p := webPDB()
	p.Labels = map[string]string{"team": "shop"}
	if _, err := pdbs.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if got := r.count(); got != n+1 {
		t.Fatalf("%d events after a PDB's label changed, want only the marker's", got-n)
	}

	if err := pdbs.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.waitEvent("web", "wanting a PDB again", has(safety.RolloutDropsAllPods, safety.NoReadinessProbe, safety.GraceShorterThanPreStop, safety.NoPDB))
	if err := r.client.CoreV1().Services("shop").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.waitEvent("web", "without the Service", has(safety.GraceShorterThanPreStop, safety.NoPDB))
}

// TestWarningsWithoutPDBRights: with no right to list PDBs, the rule that
// wants one is not shown rather than shown wrongly; the others are.
func TestWarningsWithoutPDBRights(t *testing.T) {
	forbid := func(c *fake.Clientset, d *Diagnose) {
		c.PrependReactor("list", "poddisruptionbudgets", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}, "", nil)
		})
		withPDBs(c, d)
	}
	r := startServingWith(t, forbid, []string{"services", "endpointslices", "deployments", "pods"}, append(unsafeWeb(), webPDB())...)
	if got, want := ids(r.last("web").Warnings), []string{safety.GraceShorterThanPreStop}; !slices.Equal(got, want) {
		t.Fatalf("warnings %v, want %v (no no-pdb: PDBs cannot be read)", got, want)
	}
	if r.tr.Health().State != Live {
		t.Errorf("health %+v, want live: PDBs that cannot be read are not a lost watch", r.tr.Health())
	}
}
