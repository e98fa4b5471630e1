package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeBrowserWorkloads: the page shows a Deployment, a StatefulSet
// and a DaemonSet as rows named as kubectl names them (deploy/, sts/, ds/),
// and offers each kind the changes it has: the DaemonSet's image is set,
// the StatefulSet is scaled and rolled back to an earlier revision from
// its history, the DaemonSet restarted; neither offers pause, and the
// DaemonSet has no replica field.
func TestServeBrowserWorkloads(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	createStatefulSet(t, ns, "db", 1, true, func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement })
	createDaemonSet(t, ns, "agent", nil)
	patchImage(t, ns, "statefulset", "db", stsImage2) // a second revision, to roll back from
	testutil.Eventually(t, 2*time.Minute, "the statefulset at its second revision", func() bool {
		s := getStatefulSet(t, ns, "db")
		return s.Status.ObservedGeneration >= s.Generation && s.Status.CurrentRevision == s.Status.UpdateRevision && s.Status.ReadyReplicas == 1
	})
	waitRolledOut(t, ns, "web")
	p := startServe(t)
	_, do, poll := pageDriver(t, p, ns)

	sts, ds := `tr[data-kind="StatefulSet"][data-name="db"]`, `tr[data-kind="DaemonSet"][data-name="agent"]`
	poll("the rows named with their kinds", 30*time.Second, `(() => {
		const name = (sel) => (document.querySelector(sel + ' button.toggle') || {}).textContent;
		return name('tr[data-kind="Deployment"][data-name="web"]') === "deploy/web" && name('`+sts+`') === "sts/db" && name('`+ds+`') === "ds/agent";
	})()`)
	poll("the permissions", 30*time.Second, `document.getElementById("deployments").dataset.permissions === "loaded"`)
	poll("a replica field for the statefulset, none for the daemonset", 10*time.Second,
		`!document.querySelector('`+sts+` input.replicas').disabled && !document.querySelector('`+ds+` input.replicas') && !!document.querySelector('`+ds+` .replicas-fixed')`)

	dsImage := ds + ` input.image`
	do("type the daemonset's new image", chromedp.Focus(chromedp.CSS(dsImage)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+dsImage+`').select()`),
		chromedp.SendKeys(chromedp.CSS(dsImage), stsImage2+kb.Enter))
	testutil.Eventually(t, 30*time.Second, "the page's image to reach the daemonset", func() bool {
		d, err := testbed.Clientset(t).AppsV1().DaemonSets(ns).Get(context.Background(), "agent", metav1.GetOptions{})
		return err == nil && d.Spec.Template.Spec.Containers[0].Image == stsImage2
	})

	replicas := sts + ` input.replicas`
	do("type 2 replicas", chromedp.WaitEnabled(chromedp.CSS(replicas)), // disabled until /permissions answers
		chromedp.Focus(chromedp.CSS(replicas)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+replicas+`').select()`),
		chromedp.SendKeys(chromedp.CSS(replicas), "2"+kb.Enter))
	testutil.Eventually(t, 30*time.Second, "the page's scale to reach the statefulset", func() bool {
		return *getStatefulSet(t, ns, "db").Spec.Replicas == 2
	})
	if d := getDeployment(t, ns, "web"); *d.Spec.Replicas != 1 {
		t.Fatalf("the Deployment was scaled: %d replicas", *d.Spec.Replicas)
	}

	// Settled, so that the resourceVersion the history is read at (the
	// undo's precondition) stays put.
	poll("the statefulset at 2/2 on the page", time.Minute,
		`document.querySelector('`+sts+` .ready').textContent === "2/2" && document.querySelector('`+sts+`').dataset.status === "Running"`)
	detail := `tr[data-detail-kind="StatefulSet"][data-detail-for="db"]`
	do("open the statefulset's history", chromedp.Click(chromedp.CSS(sts+` button.toggle`)),
		chromedp.WaitVisible(chromedp.CSS(detail+` button.undo-to[data-revision="1"]`)))
	poll("restart offered, pause and resume not", 10*time.Second,
		`!!document.querySelector('`+detail+` button.restart') && !document.querySelector('`+detail+` button.pause, `+detail+` button.resume')`)
	do("ask to undo to revision 1", chromedp.Click(chromedp.CSS(detail+` button.undo-to[data-revision="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(detail+` .confirm`)))
	poll("the confirmation naming sts/db", 10*time.Second, `document.querySelector('`+detail+` .confirm').textContent.includes("Roll sts/db back to revision 1")`)
	do("confirm", chromedp.Click(chromedp.CSS(detail+` button.confirm-undo`)))
	poll("the page to say rolled back", 30*time.Second, `(document.querySelector('`+detail+` .note') || {}).textContent === "rolled back to revision 1"`)
	testutil.Eventually(t, 30*time.Second, "the undo to reach the statefulset", func() bool {
		return getStatefulSet(t, ns, "db").Spec.Template.Spec.Containers[0].Image == stsImage1
	})

	dsDetail := `tr[data-detail-kind="DaemonSet"][data-detail-for="agent"]`
	do("open the daemonset's detail", chromedp.Click(chromedp.CSS(ds+` button.toggle`)),
		chromedp.WaitVisible(chromedp.CSS(dsDetail+` button.restart`)))
	poll("no pause for the daemonset", 10*time.Second, `!document.querySelector('`+dsDetail+` button.pause, `+dsDetail+` button.resume')`)
	do("restart the daemonset", chromedp.Click(chromedp.CSS(dsDetail+` button.restart`)))
	testutil.Eventually(t, 30*time.Second, "the restart to reach the daemonset", func() bool {
		d, err := testbed.Clientset(t).AppsV1().DaemonSets(ns).Get(context.Background(), "agent", metav1.GetOptions{})
		return err == nil && d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] != ""
	})
	poll("the page says restarted", 30*time.Second, `(document.querySelector('`+dsDetail+` .note') || {}).textContent === "restarted"`)
}
