package e2e

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// oneContainer leaves a Deployment's pod template one container and no
// init container, as most are: its name is then obvious.
func oneContainer(d *appsv1.Deployment) {
	d.Spec.Template.Spec.InitContainers = nil
	d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[:1]
}

// TestCauseOnTheFirstScreen: a set-image to a tag the registry does not
// have and a crash loop, on a terminal 160, then 120, then 80 columns
// wide: the image-pull row shows its reason at 80 columns and the
// registry's answer ("not found") from 120, with the image's tag in IMAGES
// and not again in MESSAGE; the
// crash loop its reason, then its exit code; the count says how many of
// the new pods that exist fail, and how many are wanted. NDJSON cuts no
// word and keeps the kubelet's whole text. A paused rollout's IMAGES says
// it is not rolled out.
func TestCauseOnTheFirstScreen(t *testing.T) {
	ns := testbed.NewNamespace(t)
	image := testbed.FaultImage(testbed.FaultImagePull)
	opsDeployment(t, ns, "api", 2, true, oneContainer)
	opsDeployment(t, ns, "worker", 2, false, func(d *appsv1.Deployment) {
		oneContainer(d)
		faultLabel(testbed.FaultCrashLoop)(d)
	})
	opsDeployment(t, ns, "cart", 2, true, oneContainer)
	ndjson := startWatch(t, "watch", ns, "-o", "ndjson")
	table := startWatch(t, "watch", ns)
	ndjson.waitEvent(t, "api", "is Running", func(e deployment.Event) bool { return e.Status == deployment.Running })

	testbed.Kubectl(t, "-n", ns, "set", "image", "deployment/api", "web="+image)
	testbed.Kubectl(t, "-n", ns, "rollout", "pause", "deployment/cart")
	testbed.Kubectl(t, "-n", ns, "set", "image", "deployment/cart", "web=registry.k8s.io/pause:3.9")

	// NDJSON: the cause first in message, the registry's answer in cause,
	// the kubelet's whole text in messageFull, no word cut.
	api := ndjson.waitEvent(t, "api", "is Failing", func(e deployment.Event) bool { return e.Status == deployment.Failing && len(e.Problems) > 0 })
	p := api.Problems[0]
	if (!strings.HasPrefix(api.Message, "ErrImagePull: not found (") && !strings.HasPrefix(api.Message, "ImagePullBackOff: not found (")) ||
		!strings.Contains(api.Message, "(1 of 1 new pod, 2 wanted; pod api-") || strings.Contains(api.Message, image) {
		t.Errorf("api's message %q: want the reason, the registry's answer and 1 of 1 new pod, 2 wanted, without the image", api.Message)
	}
	if p.Cause != "not found" || !strings.HasSuffix(p.MessageFull, image+": not found") || !strings.Contains(p.MessageFull, `failed to resolve reference "`+image+`"`) {
		t.Errorf("problem %+v: want cause %q and the kubelet's whole text in messageFull", p, "not found")
	}
	if n := utf8.RuneCountInString(p.Message); n > 200 || !strings.Contains(p.Message, " … ") {
		t.Errorf("problem message %q (%d characters): want at most 200, shortened between words", p.Message, n)
	}
	words := strings.Fields(p.MessageFull)
	for _, w := range strings.Fields(p.Message) {
		if w != "…" && !slices.Contains(words, w) {
			t.Errorf("the problem's message %q cuts the word %q", p.Message, w)
		}
	}
	worker := ndjson.waitEvent(t, "worker", "is Failing on both pods", func(e deployment.Event) bool {
		return e.Status == deployment.Failing && len(e.Problems) > 0 && e.Problems[0].Pods == 2
	})
	opsContains(t, "worker's message", worker.Message, "CrashLoopBackOff: exit code 1 (2 of 2 new pods; pod worker-")

	// Piped: the paused rollout's spec image is not what its pods run.
	testutil.Eventually(t, 90*time.Second, "cart Paused with its image not rolled out", func() bool {
		for _, l := range table.output() {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "cart" && f[1] == "Paused" && strings.Contains(l, "registry.k8s.io/pause:3.9 (not rolled out)") {
				return true
			}
		}
		return false
	})

	tmux, waitPane, rowOf := newTmux(t, 160, 20)
	tmux("send-keys", "-t", "e2e", "kubectl deploywatch "+ns, "Enter")
	pulling := func(r string) bool {
		return strings.Contains(r, "ErrImagePull: not found") || strings.Contains(r, "ImagePullBackOff: not found")
	}
	// One row each, laid out for this width: at 160 whole, narrower cut
	// to the width (by the table, with "…", not by tmux).
	rows := func(s string, width int) (api, worker string, ok bool) {
		a, w := rowOf(s, "api"), rowOf(s, "worker")
		if len(a) != 1 || len(w) != 1 {
			return "", "", false
		}
		for _, r := range []string{a[0], w[0]} {
			if n := utf8.RuneCountInString(r); n > width || (width < 160 && (n != width || !strings.HasSuffix(r, "…"))) {
				return "", "", false
			}
		}
		return a[0], w[0], true
	}
	screen := waitPane("both causes at 160 columns", func(s string) bool {
		a, w, ok := rows(s, 160)
		return ok && pulling(a) && strings.Contains(a, "image-pull:v1") && strings.Contains(a, "(1 of 1 new pod, 2 wanted; pod api-") &&
			strings.Contains(w, "CrashLoopBackOff: exit code 1 (2 of 2 new pods; pod worker-")
	})
	t.Logf("160 columns:\n%s", screen)

	tmux("resize-window", "-t", "e2e", "-x", "120", "-y", "20")
	screen = waitPane("the registry's answer and the exit code at 120 columns", func(s string) bool {
		a, w, ok := rows(s, 120)
		return ok && pulling(a) && strings.Contains(a, "image-pull:v1") && strings.Contains(w, "CrashLoopBackOff: exit code 1")
	})
	t.Logf("120 columns:\n%s", screen)

	tmux("resize-window", "-t", "e2e", "-x", "80", "-y", "20")
	screen = waitPane("the reasons at 80 columns", func(s string) bool {
		a, w, ok := rows(s, 80)
		return ok && (strings.Contains(a, "Failing") && (strings.Contains(a, "ErrImagePull") || strings.Contains(a, "ImagePullBackOff"))) &&
			strings.Contains(w, "Failing") && strings.Contains(w, "CrashLoopBackOff")
	})
	t.Logf("80 columns:\n%s", screen)
	tmux("send-keys", "-t", "e2e", "C-c")
}
