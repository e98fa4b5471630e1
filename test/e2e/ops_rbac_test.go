package e2e

import (
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestOpsScaleOnlyUser: a user allowed only get, patch and update on
// deployments/scale in one namespace can scale (the scale subresource is all
// scale uses), but set-image, which reads and patches the Deployment, is
// Forbidden with a message naming what is missing; --wait, which needs to
// watch, is refused before anything is written.
func TestOpsScaleOnlyUser(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 2, true, nil)
	kubeconfig := opsScaleOnlyKubeconfig(t, ns)

	r := opsRun(t, "--kubeconfig", kubeconfig, "scale", "web", "--replicas=3")
	if r.code != 0 || r.stdout != "deployment.apps/web scaled\n" {
		t.Fatalf("scale as the scaler: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := *opsGet(t, ns, "web").Spec.Replicas; got != 3 {
		t.Errorf("replicas = %d, want 3", got)
	}

	testutil.Eventually(t, time.Minute, "the scale to roll out", func() bool { return opsRolledOut(opsGet(t, ns, "web")) })
	rv := opsGet(t, ns, "web").ResourceVersion
	r = opsRun(t, "--kubeconfig", kubeconfig, "set-image", "web", "web=registry.k8s.io/pause:3.9")
	if r.code != 1 {
		t.Errorf("set-image as the scaler: exit %d, want 1", r.code)
	}
	opsBadInputMessage(t, r,
		`User "system:serviceaccount:`+ns+`:scaler" cannot get resource "deployments" in API group "apps" in the namespace "`+ns+`"`,
		`set-image needs get and patch on deployments in namespace "`+ns+`"`,
		"check with 'kubectl auth can-i patch deployments -n "+ns+"'")

	r = opsRun(t, "--kubeconfig", kubeconfig, "scale", "web", "--replicas=4", "--wait")
	if r.code != 1 {
		t.Errorf("scale --wait as the scaler: exit %d, want 1", r.code)
	}
	opsBadInputMessage(t, r, `--wait needs list and watch on deployments in namespace "`+ns+`"`, "nothing was changed", "kubectl auth can-i list deployments -n "+ns)

	if got := opsGet(t, ns, "web").ResourceVersion; got != rv {
		t.Errorf("resourceVersion moved from %s to %s", rv, got)
	}
}
