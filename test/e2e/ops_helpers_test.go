package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// opsResult is what one run of the plugin printed and how it exited.
type opsResult struct {
	stdout, stderr string
	code           int
}

// opsRun runs `kubectl deploywatch args...` against the shared cluster, the
// way a user does, piped (not on a terminal).
func opsRun(t *testing.T, args ...string) opsResult {
	t.Helper()
	return runEnv(t, nil, args...)
}

// opsDeployment creates Deployment name in ns with containers web and
// sidecar (and init container migrate), lets edit change it first, and
// with rolledOut waits until it has rolled out.
func opsDeployment(t *testing.T, ns, name string, replicas int32, rolledOut bool, edit func(*appsv1.Deployment)) {
	t.Helper()
	d := testutil.Deployment(name, testutil.Replicas(replicas),
		testutil.Containers(corev1.Container{Name: "web", Image: testutil.PauseImage}, corev1.Container{Name: "sidecar", Image: testutil.PauseImage}),
		testutil.PodSpec(func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: "migrate", Image: testutil.PauseImage}}
		}),
		testutil.Edit(edit))
	ctx := context.Background()
	if _, err := testbed.Clientset(t).AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment %s: %v", name, err)
	}
	if rolledOut {
		testutil.Eventually(t, time.Minute, "deployment "+name+" to roll out", func() bool {
			return opsRolledOut(opsGet(t, ns, name))
		})
	}
}

func opsRolledOut(d *appsv1.Deployment) bool {
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == *d.Spec.Replicas &&
		s.ReadyReplicas == *d.Spec.Replicas && s.AvailableReplicas == *d.Spec.Replicas && s.Replicas == *d.Spec.Replicas
}

func opsGet(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := testbed.Clientset(t).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment %s: %v", name, err)
	}
	return d
}

func opsImages(d *appsv1.Deployment) string {
	var parts []string
	for _, c := range d.Spec.Template.Spec.InitContainers {
		parts = append(parts, "init:"+c.Name+"="+c.Image)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		parts = append(parts, c.Name+"="+c.Image)
	}
	return strings.Join(parts, ",")
}

func opsContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, got)
		}
	}
}

// opsScaleOnlyKubeconfig makes ServiceAccount "scaler" in ns, allowed only
// get, patch and update on deployments/scale there, and returns the path of
// a kubeconfig that uses its token.
func opsScaleOnlyKubeconfig(t *testing.T, ns string) string {
	t.Helper()
	cs := testbed.Clientset(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "scaler"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "scale-only"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale"}, Verbs: []string{"get", "patch", "update"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "scaler"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "scale-only"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "scaler", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	path := serviceAccountKubeconfigOf(t, testbed.Shared(), ns, "scaler")
	testutil.Eventually(t, 30*time.Second, "the scaler's token to be accepted", func() bool {
		out, _, err := testbed.KubectlErr("--kubeconfig", path, "auth", "can-i", "update", "deployments", "--subresource=scale")
		return err == nil && strings.TrimSpace(out) == "yes"
	})
	return path
}
