package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// pageDriver opens serve's page for namespace ns in a fresh chromium and
// returns helpers that act in it and wait for JavaScript conditions.
func pageDriver(t *testing.T, p *serveProc, ns string) (ctx context.Context, do func(string, ...chromedp.Action[chromedp.Void]), poll func(string, time.Duration, string)) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	ctx = newBrowser(t)
	do = func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v (page text: %s)", what, err, pageText(ctx))
		}
	}
	poll = func(what string, timeout time.Duration, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
			t.Fatalf("%s: %v (page text: %s)", what, err, pageText(ctx))
		}
	}
	do("open the page", chromedp.Navigate(p.base+"/#token="+p.token),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-namespace="`+ns+`"] a`)),
		chromedp.Click(chromedp.CSS(`tr[data-namespace="`+ns+`"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="web"]`)))
	return ctx, do, poll
}

// TestServeBrowserUndo: after a bad image (the test bed's kubelet cannot
// pull it) whose rollout fails for real (ProgressDeadlineExceeded), a user opens the row's history on the page,
// picks the revision before it, reads a confirmation that names the image
// before and after, confirms, and sees the row Running again; the cluster
// has the old template back.
func TestServeBrowserUndo(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 2, true, func(d *appsv1.Deployment) {
		deadline := int32(5)
		d.Spec.ProgressDeadlineSeconds = &deadline
	})
	bad := testbed.FaultImage(testbed.FaultImagePull)
	rolloutEdit(t, ns, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = bad })
	testutil.Eventually(t, time.Minute, "the rollout to fail", func() bool { return opsFailed(opsGet(t, ns, "web")) })

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(randomHex(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--token-file", tokenFile)
	_, do, poll := pageDriver(t, p, ns)
	row := `document.querySelector('tr[data-name="web"]')`
	poll("the row to show the failure", 30*time.Second, row+`.dataset.status === "Failed"`)

	do("open the row's history", chromedp.Click(chromedp.CSS(`tr[data-name="web"] button.toggle`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-detail-for="web"] button.undo-to[data-revision="1"]`)))
	poll("revision 2 marked current", 10*time.Second,
		`document.querySelector('tr[data-detail-for="web"] tr[data-revision="2"]').classList.contains("current")`)
	do("ask to undo to revision 1", chromedp.Click(chromedp.CSS(`tr[data-detail-for="web"] button.undo-to[data-revision="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-detail-for="web"] .confirm`)))
	poll("the confirmation naming the images", 10*time.Second, `(() => {
		const c = document.querySelector('tr[data-detail-for="web"] .confirm').textContent;
		return c.includes("Roll web back to revision 1 (from revision 2)?") &&
			c.includes("container web: `+bad+` → `+imageOld+`") && c.includes("container sidecar: `+imageOld+` (unchanged)");
	})()`)
	if d := opsGet(t, ns, "web"); d.Spec.Template.Spec.Containers[0].Image != bad {
		t.Fatalf("asking for the confirmation changed the Deployment: image %s", d.Spec.Template.Spec.Containers[0].Image)
	}
	do("confirm", chromedp.Click(chromedp.CSS(`tr[data-detail-for="web"] button.confirm-undo`)))
	testutil.Eventually(t, 30*time.Second, "the undo to reach the cluster", func() bool {
		d := opsGet(t, ns, "web")
		return d.Spec.Template.Spec.Containers[0].Image == imageOld
	})
	poll("the row Running again", time.Minute, row+`.dataset.status === "Running" && `+row+`.querySelector('.ready').textContent === "2/2"`)
	poll("the history showing revision 3 current", 30*time.Second,
		`(() => { const r = document.querySelector('tr[data-detail-for="web"] tr[data-revision="3"]'); return !!r && r.classList.contains("current"); })()`)
	if !opsRolledOut(opsGet(t, ns, "web")) {
		t.Errorf("the page shows Running but the Deployment has not rolled out: %+v", opsGet(t, ns, "web").Status)
	}
}

// TestServeBrowserNoControlsWithoutRights: serve running as a user who may
// only read Deployments offers no control on the page: no restart, pause,
// resume or undo button, and the replica and image fields are not editable.
// The silence is proven by what comes after it: the permissions answered
// and the row's detail view rendered (with the refusal of the history).
func TestServeBrowserNoControlsWithoutRights(t *testing.T) {
	ns := testbed.NewNamespace(t)
	rolloutTwoRevisions(t, ns, "web", nil)
	viewer := rolloutKubeconfig(t, ns, "viewer",
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}})
	p := startServe(t, "--kubeconfig", viewer)
	_, do, poll := pageDriver(t, p, ns)

	poll("the permissions answered", 30*time.Second, `document.getElementById("deployments").dataset.permissions === "loaded"`)
	do("open the row's detail view", chromedp.Click(chromedp.CSS(`tr[data-name="web"] button.toggle`)))
	poll("the detail view rendered, the history refused", 30*time.Second,
		`(document.querySelector('tr[data-detail-for="web"] .field-error') || {}).textContent?.includes('cannot list resource "replicasets"') === true`)
	poll("no controls", time.Second, `document.querySelectorAll('button.control').length === 0 &&
		[...document.querySelectorAll('tr[data-name="web"] input')].length > 0 &&
		[...document.querySelectorAll('tr[data-name="web"] input')].every((i) => i.disabled)`)
}
