package e2e

import (
	"os"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/chromedp/chromedp"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestWarningsOnThePageAndStream: serve's stream carries the unsafe
// Deployment's warnings, and the page marks its row, lists each warning
// with its fix on a click, and shows its Service's ready endpoints in the
// Serving cell.
func TestWarningsOnThePageAndStream(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s (apt-get install chromium; .ci/run does): %v", chromium, err)
	}
	ns := testbed.NewNamespace(t)
	servingApp(t, ns, "api", "api-svc", nil, map[string]string{"app": "api"}, func(d *appsv1.Deployment) {
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &one}
		d.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	})
	want := []string{"rollout-drops-all-pods", "no-readiness-probe", "no-prestop"}
	p := startServe(t)
	s := p.openStream(t, ns, nil)
	s.until(t, 90*time.Second, "api's warnings on the stream", func(ev sseEvent) bool {
		var events []deployment.Event
		switch ev.Event {
		case "snapshot":
			events = snapshotOf(t, ev)
		case "upsert":
			events = []deployment.Event{eventOf(t, ev)}
		}
		return slices.ContainsFunc(events, func(e deployment.Event) bool { return e.Name == "api" && slices.Equal(warningIDs(e), want) })
	})

	ctx := newBrowser(t)
	poll := func(what string, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(90*time.Second))); err != nil {
			t.Fatalf("%s: %v (page text: %s)", what, err, pageText(ctx))
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.base+"/#token="+p.token)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.base+"/#/ns/"+ns)); err != nil {
		t.Fatal(err)
	}
	row := `document.querySelector('tr[data-name="api"]')`
	poll("the row marked with 3 warnings and serving 1/1", row+` && `+row+`.querySelector('details.warnings summary').textContent === "\u26a03 warnings" && `+
		row+`.querySelector('td.serving').textContent === "1/1" && !`+row+`.querySelector('td.serving').classList.contains("gap")`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-name="api"] details.warnings summary`))); err != nil {
		t.Fatalf("open the warnings: %v", err)
	}
	poll("each warning listed with its fix", `(() => { const li = [...document.querySelectorAll('tr[data-name="api"] details.warnings[open] li.warning')];
		return li.map((l) => l.dataset.warning).join(",") === "rollout-drops-all-pods,no-readiness-probe,no-prestop" &&
			li[1].textContent.startsWith("no-readiness-probe (container web): ") && li.every((l) => l.textContent.includes(" Fix: ")); })()`)
}
