package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeLinkOpensTheNamespace: with -n, the URL serve prints opens that
// namespace's page, not the namespace list; the page takes the token out
// of the address and keeps the view. The image field, cut to its width,
// keeps the tag in sight.
func TestServeLinkOpensTheNamespace(t *testing.T) {
	ns := testbed.NewNamespace(t)
	const image = "registry.testbed.invalid/platform/team/services/web-frontend:v2.31.4"
	createDeploymentSpec(t, ns, "web", 1, func(s *corev1.PodSpec) { s.Containers[0].Image = image })
	p := startServe(t, "-n", ns)
	link := strings.TrimPrefix(p.line, "Serving Deployments on ")
	if want := p.base + "/#/ns/" + ns + "?token="; !strings.HasPrefix(link, want) {
		t.Fatalf("serve -n %s printed %q, want a link starting %s", ns, p.line, want)
	}
	b := openPage(t)
	b.do("open the printed link", chromedp.Navigate(link))
	b.poll("the namespace's page with web", 30*time.Second, `document.querySelectorAll('#deployments tr[data-name="web"]').length === 1`)
	if hash := b.str(`location.hash`); hash != "#/ns/"+ns {
		t.Errorf("the address after opening is %q, want #/ns/%s: the token out, the view kept", hash, ns)
	}

	// The image field at rest: cut from the left, the tag in sight, the
	// whole in its title; focused, the whole to edit.
	field := `document.querySelector('tr[data-name="web"] input.image')`
	b.poll("the image field", 30*time.Second, `!!`+field+` && `+field+`.title === "`+image+`"`)
	if got := b.str(field + `.value`); got == image || !strings.HasPrefix(got, "\u2026") || !strings.HasSuffix(got, ":v2.31.4") {
		t.Errorf("the image field shows %q, want %s cut from the left to its width, its tag kept", got, image)
	}
	b.poll("the permissions", 30*time.Second, `document.getElementById("deployments").dataset.permissions === "loaded" && !`+field+`.disabled`)
	// A headless window never has the focus, so a field's focus event,
	// which a user's click gives, needs focus emulation.
	focusEmulation := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	})
	b.do("focus the image field", focusEmulation, chromedp.Focus(chromedp.CSS(`tr[data-name="web"] input.image`)))
	if got := b.str(field + `.value`); got != image {
		t.Errorf("the focused image field holds %q, want the whole %s", got, image)
	}
}
