package e2e

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

func warningIDs(e deployment.Event) []string {
	out := []string{}
	for _, w := range e.Warnings {
		out = append(out, w.ID)
	}
	return out
}

// TestWarningsLive: the write-up's unsafe Deployment (1 replica, maxSurge
// 0, no readinessProbe, no preStop, behind a Service) is warned of in
// NDJSON and in the piped table; once its spec is fixed (2 replicas, so a
// PodDisruptionBudget matters) only no-pdb is left, and a PDB ends it.
func TestWarningsLive(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, func(d *appsv1.Deployment) {
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}
		d.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	})
	w := startWatch(t, ns, "-o", "ndjson")
	table := startWatch(t, ns)
	want := []string{"rollout-drops-all-pods", "no-readiness-probe", "no-prestop"}
	e := w.waitEvent(t, "api", "is warned of its spec", func(e deployment.Event) bool { return slices.Equal(warningIDs(e), want) })
	for _, wn := range e.Warnings {
		if wn.Level != "warning" || wn.Message == "" || wn.Fix == "" {
			t.Errorf("warning %+v: want level warning, a message and a fix", wn)
		}
	}
	if c := e.Warnings[1].Container; c != "web" {
		t.Errorf("no-readiness-probe is about container %q, want web (the one with the port api-svc targets)", c)
	}
	testutil.Eventually(t, time.Minute, "the piped table to mark api with !3", func() bool {
		return slices.ContainsFunc(table.output(), func(l string) bool {
			return strings.HasPrefix(l, "api ") && strings.Contains(l, "   !3")
		})
	})

	kube := testbed.Clientset(t)
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := kube.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			return err
		}
		two := int32(2)
		d.Spec.Replicas = &two
		fixedSpec(d)
		_, err = kube.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w.waitEvent(t, "api", "is left with no-pdb alone", func(e deployment.Event) bool {
		return slices.Equal(warningIDs(e), []string{"no-pdb"}) && e.Warnings[0].Level == "notice" &&
			e.Status == deployment.Running && e.Replicas.Ready == 2
	})
	one := intstr.FromInt32(1)
	_, err = kube.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The tracker's unit tests check that such an event names warnings alone.
	w.waitEvent(t, "api", "has no warning once a PDB guards it", func(e deployment.Event) bool {
		return e.Type == deployment.Modified && len(e.Warnings) == 0 && slices.Contains(e.Changed, "warnings")
	})
}

// TestWarningsWithoutThePDBRight: an identity that may not list
// PodDisruptionBudgets gets every warning but no-pdb, which is left out
// rather than shown wrongly; with the right, the same Deployment has it.
func TestWarningsWithoutThePDBRight(t *testing.T) {
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, func(d *appsv1.Deployment) {
		two := int32(2)
		d.Spec.Replicas = &two
	})
	kubeconfig := rolloutKubeconfig(t, ns, "no-pdbs",
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "events", "services"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}})
	warned := func(args ...string) []string {
		t.Helper()
		r := opsRun(t, append(args, "watch", ns, "-o", "ndjson", "--until-complete", "--timeout", "1m")...)
		if r.code != 0 {
			t.Fatalf("exit %d, want 0: %s", r.code, r.stderr)
		}
		var e deployment.Event
		if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &e); err != nil {
			t.Fatalf("stdout %q: %v", r.stdout, err)
		}
		return warningIDs(e)
	}
	if got, want := warned(), []string{"no-readiness-probe", "no-prestop", "no-pdb"}; !slices.Equal(got, want) {
		t.Errorf("with every right: warnings %v, want %v", got, want)
	}
	if got, want := warned("--kubeconfig", kubeconfig), []string{"no-readiness-probe", "no-prestop"}; !slices.Equal(got, want) {
		t.Errorf("without the right to list PodDisruptionBudgets: warnings %v, want %v", got, want)
	}
}
