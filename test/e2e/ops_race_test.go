package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestOpsSetImageRace: another writer changes the Deployment between
// set-image's read and its patch (the proxy holds the patch until that
// write is stored). An image changed meanwhile is never overwritten and a
// container removed meanwhile is a conflict (exit 1, nothing written);
// containers that only moved get the image at their new place.
func TestOpsSetImageRace(t *testing.T) {
	ns := testbed.NewNamespace(t)
	const pause = "registry.k8s.io/pause:"
	for _, tc := range []struct {
		name   string
		args   []string
		other  func(*appsv1.Deployment)
		code   int
		stderr []string
		want   string // images afterwards
	}{
		{name: "image-changed", args: []string{"web=" + pause + "3.8"},
			other: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = pause + "3.9" },
			code:  1,
			stderr: []string{`the image of container "web" of deployment "image-changed" in namespace "` + ns +
				`" changed from ` + pause + `3.10 to ` + pause + `3.9 while it was being set; nothing was changed`, "try again"},
			want: "init:migrate=" + pause + "3.10,web=" + pause + "3.9,sidecar=" + pause + "3.10"},
		{name: "removed", args: []string{"sidecar=" + pause + "3.8"},
			other: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[:1] },
			code:  1,
			stderr: []string{`container "sidecar" of deployment "removed" in namespace "` + ns +
				`" was removed while its image was being set; nothing was changed`},
			want: "init:migrate=" + pause + "3.10,web=" + pause + "3.10"},
		{name: "reordered", args: []string{"web=" + pause + "3.8"},
			other: func(d *appsv1.Deployment) {
				cs := d.Spec.Template.Spec.Containers
				cs[0], cs[1] = cs[1], cs[0]
			},
			want: "init:migrate=" + pause + "3.10,sidecar=" + pause + "3.10,web=" + pause + "3.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opsDeployment(t, ns, tc.name, 1, false, nil)
			proxy := newRaceProxy(t)
			var raced atomic.Bool
			proxy.on(isPatchOf(ns, tc.name), func() {
				raced.Store(true)
				deployments := testbed.Clientset(t).AppsV1().Deployments(ns)
				if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
					d, err := deployments.Get(context.Background(), tc.name, metav1.GetOptions{})
					if err != nil {
						return err
					}
					tc.other(d)
					_, err = deployments.Update(context.Background(), d, metav1.UpdateOptions{})
					return err
				}); err != nil {
					t.Errorf("the other writer: %v", err)
				}
			})
			r := runEnv(t, proxy.env(t, ns), append([]string{"set-image", tc.name}, tc.args...)...)
			if !raced.Load() {
				t.Fatalf("set-image sent no patch through the proxy: %q", proxy.requests())
			}
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			opsContains(t, "stderr", r.stderr, tc.stderr...)
			if tc.code != 0 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("stderr is not one line: %q", r.stderr)
			}
			if got := opsImages(opsGet(t, ns, tc.name)); got != tc.want {
				t.Errorf("images = %s, want %s", got, tc.want)
			}
		})
	}
}
