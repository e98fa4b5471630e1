package cmd

import (
	"context"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// TestWorkloadRefusals: what the commands refuse for StatefulSets and
// DaemonSets is refused in Validate, in one line, before any request.
func TestWorkloadRefusals(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"pause", "sts/db"}, `statefulset "db" cannot be paused: only deployments can be paused and resumed, as in kubectl`},
		{[]string{"resume", "web", "daemonset/agent"}, `daemonset "agent" cannot be resumed: only deployments`},
		{[]string{"restart", "web", "sts/db", "--wait", "--fail-on-gap"}, "--fail-on-gap applies to deployments only, not sts/db: drop --fail-on-gap"},
		{[]string{"undo", "ds/agent", "--wait", "--fail-on-gap"}, "--fail-on-gap applies to deployments only, not ds/agent"},
		{[]string{"undo", "rs/web-1"}, `unknown workload type "rs" in "rs/web-1": use deploy/NAME, sts/NAME or ds/NAME (a bare NAME is a deployment)`},
		{[]string{"history", "pod/x"}, `unknown workload type "pod" in "pod/x"`},
		{[]string{"restart", "web", "cronjob/x"}, `unknown workload type "cronjob" in "cronjob/x"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c, out, errOut, err := runRollout(t, false, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line with %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "invalid deployment name") {
				t.Errorf("err = %v: the type is reported once, not as a bad name too", err)
			}
			if len(c.Actions()) != 0 || out != "" || errOut != "" {
				t.Errorf("actions %v, out %q, errOut %q; want none", c.Actions(), out, errOut)
			}
		})
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ds/agent", "--replicas=2"}, `daemonset "agent" cannot be scaled`},
		{[]string{"sts/db", "--replicas=2", "--wait", "--fail-on-gap"}, "--fail-on-gap applies to deployments only, not sts/db"},
	} {
		c, out, err := runChange(t, scaleCmd, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || len(c.Actions()) != 0 || out != "" {
			t.Errorf("scale %v: err %v, actions %v, out %q; want %q and nothing done", tt.args, err, c.Actions(), out, tt.want)
		}
	}
	c, out, err := runChange(t, setImageCmd, "statefulset/db", "web=nginx:1", "--wait", "--fail-on-gap")
	if err == nil || !strings.Contains(err.Error(), "--fail-on-gap applies to deployments only, not sts/db") || len(c.Actions()) != 0 || out != "" {
		t.Errorf("set-image --wait: err %v, actions %v, out %q", err, c.Actions(), out)
	}
}

// TestCheckCanWatchEveryKind: before a change, --wait asks for list and
// watch on each kind it will follow, and names the one it may not watch.
func TestCheckCanWatchEveryKind(t *testing.T) {
	c := fake.NewClientset()
	var asked []string
	c.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		attrs := review.Spec.ResourceAttributes
		asked = append(asked, attrs.Verb+" "+attrs.Group+"/"+attrs.Resource+" in "+attrs.Namespace)
		review.Status.Allowed = attrs.Resource != "statefulsets" || attrs.Verb != "watch"
		return true, review, nil
	})
	o := changeOptions{Wait: true, clients: &clients{Kube: c, Namespace: "shop"}, kind: operations.DaemonSet}
	if err := o.checkCanWatch(context.Background()); err != nil {
		t.Fatalf("daemonsets may be watched: %v", err)
	}
	if want := []string{"list apps/daemonsets in shop", "watch apps/daemonsets in shop"}; !slices.Equal(asked, want) {
		t.Errorf("asked %q, want %q", asked, want)
	}
	err := o.checkCanWatch(context.Background(), operations.Deployment, operations.StatefulSet)
	want := `--wait needs list and watch on statefulsets in namespace "shop", and you may not watch them; nothing was changed; check with 'kubectl auth can-i watch statefulsets -n shop', or drop --wait`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestLiveTitleForms: the live table's title names what is watched in the
// longest form that fits the room the printer gives it.
func TestLiveTitleForms(t *testing.T) {
	o := &WatchOptions{}
	title := o.title(`namespace "demo"`)
	all := []string{"Deployment", "StatefulSet", "DaemonSet"}
	for _, c := range []struct {
		kinds []string
		room  int
		want  string
	}{
		{all, 0, `deployments, statefulsets and daemonsets in namespace "demo"`},
		{all, 60, `deployments, statefulsets and daemonsets in namespace "demo"`},
		{all, 59, `workloads in namespace "demo"`},
		{all, 29, `workloads in namespace "demo"`},
		{all, 28, `namespace "demo"`},
		{[]string{"Deployment"}, 31, `deployments in namespace "demo"`},
		{[]string{"Deployment"}, 30, `namespace "demo"`},
		// Too narrow for any: the printer cuts where.
		{[]string{"Deployment"}, 10, `namespace "demo"`},
	} {
		if got := title(c.kinds, c.room); got != c.want {
			t.Errorf("title(%v, %d) = %q, want %q", c.kinds, c.room, got, c.want)
		}
	}
}
