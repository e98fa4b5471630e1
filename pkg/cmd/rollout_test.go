package cmd

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

var rolloutNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// rolloutClient is a fake cluster with Deployment shop/web at revision 2
// (nginx:1.27) and its ReplicaSets for revisions 1 (nginx:1.26) and 2.
func rolloutClient(paused bool) *fake.Clientset {
	replicas := int32(3)
	labels := map[string]string{"app": "web"}
	yes := true
	rs := func(rev, image, cause string, n int32, age time.Duration) *appsv1.ReplicaSet {
		l := map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: "h" + rev}
		return &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "web-" + rev, Namespace: "shop", Labels: l,
				Annotations:       map[string]string{"deployment.kubernetes.io/revision": rev, "kubernetes.io/change-cause": cause},
				CreationTimestamp: metav1.NewTime(rolloutNow.Add(-age)),
				OwnerReferences:   []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-web", Controller: &yes}}},
			Spec: appsv1.ReplicaSetSpec{Replicas: &n, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}}}},
			Status: appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: n},
		}
	}
	return fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: types.UID("uid-web"), ResourceVersion: "7", Generation: 2,
				Annotations: map[string]string{"deployment.kubernetes.io/revision": "2"}},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Paused: paused, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}}}},
		},
		rs("1", "nginx:1.26", "", 0, 3*time.Hour),
		rs("2", "nginx:1.27", "bump", 3, 90*time.Second),
	)
}

func runRollout(t *testing.T, paused bool, args ...string) (*fake.Clientset, string, string, error) {
	t.Helper()
	c := rolloutClient(paused)
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	streams := genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut}
	cl := &clients{Kube: c, Config: &rest.Config{Host: "https://127.0.0.1:6443"}, Namespace: "shop"}
	var cmd *cobra.Command
	switch args[0] {
	case "history":
		o := NewHistoryOptions(nil, streams)
		o.clients, o.Now = cl, func() time.Time { return rolloutNow }
		cmd = newCmdHistory(o)
	case "undo":
		o := NewUndoOptions(nil, streams)
		o.clients = cl
		cmd = newCmdUndo(o)
	case "restart":
		o := newRolloutOptions(nil, streams, "restart", "restarted", true)
		o.clients = cl
		cmd = newCmdRestart(&o)
	case "pause", "resume":
		o := newRolloutOptions(nil, streams, args[0], args[0]+"d", false)
		o.clients = cl
		cmd = newCmdPaused(&o, args[0] == "pause")
	}
	cmd.SetArgs(args[1:])
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return c, out.String(), errOut.String(), err
}

func TestRolloutCommands(t *testing.T) {
	const (
		get   = "get deployments"
		list  = "list replicasets"
		patch = "patch deployments"
	)
	tests := []struct {
		name    string
		args    []string
		paused  bool
		out     string
		errOut  string
		errs    []string
		actions []string
	}{
		{name: "history", args: []string{"history", "web"}, actions: []string{get, list},
			out: "REVISION   CURRENT   READY   AGE   IMAGES           CHANGE-CAUSE\n" +
				"2          *         3/3     90s   web=nginx:1.27   bump\n" +
				"1                    0/0     3h    web=nginx:1.26   <none>\n"},
		{name: "history ndjson", args: []string{"history", "deploy/web", "-o", "ndjson", "--revision", "1"}, actions: []string{get, list},
			out: `{"namespace":"shop","name":"web","revision":1,"replicaSet":"web-1","containers":[{"container":"web","image":"nginx:1.26"}],` +
				`"created":"2026-12-01T09:00:00Z","replicas":0,"readyReplicas":0,"current":false}` + "\n"},
		{name: "history no such revision", args: []string{"history", "web", "--revision", "5"}, actions: []string{get, list},
			errs: []string{`deployment "web" in namespace "shop" has no revision 5; its revisions: 2, 1; see them with 'kubectl deploywatch history web -n shop'`}},
		{name: "history bad input", args: []string{"history", "a", "b", "--revision", "x", "-o", "yaml"},
			errs: []string{"history takes one deployment, got 2 arguments", `--revision must be a whole number, got "x"`, `unknown output format "yaml"`}},
		{name: "undo", args: []string{"undo", "web"}, actions: []string{get, list, patch},
			out: "deployment.apps/web rolled back to revision 1\n"},
		{name: "undo client dry run", args: []string{"undo", "web", "--dry-run"}, actions: []string{get, list},
			out: "deployment.apps/web rolled back to revision 1 (dry run)\n  revision 2 -> 1\n  container web: nginx:1.27 -> nginx:1.26\n"},
		{name: "undo to the current revision", args: []string{"undo", "web", "--to-revision=2"}, actions: []string{get, list},
			errs: []string{`deployment "web" in namespace "shop" is at revision 2 already; nothing was changed`}},
		{name: "undo paused", args: []string{"undo", "web"}, paused: true, actions: []string{get},
			errs: []string{"is paused", "resume it first with 'kubectl deploywatch resume web -n shop'"}},
		{name: "undo bad input", args: []string{"undo", "--to-revision=0", "--dry-run=later", "--timeout=1m"},
			errs: []string{"no deployment given", "--to-revision must be a positive number, got 0", `unknown dry-run mode "later"`, "--timeout only applies with --wait"}},
		{name: "restart", args: []string{"restart", "web"}, actions: []string{get, patch}, out: "deployment.apps/web restarted\n"},
		{name: "restart paused", args: []string{"restart", "web"}, paused: true, actions: []string{get},
			errs: []string{`deployment "web" in namespace "shop" is paused: a restart would not replace its pods; nothing was changed; resume it first`}},
		{name: "restart two, one missing: the other is restarted, exit 1", args: []string{"restart", "nope", "web"}, actions: []string{get, "get namespaces", get, patch},
			out: "deployment.apps/web restarted\n", errOut: `error: deployment "nope" not found in namespace "shop"; list them with 'kubectl get deployments -n shop'` + "\n",
			errs: []string{""}},
		{name: "restart bad input", args: []string{"restart", "web", "web", "Bad_Name", "--resource-version=3"},
			errs: []string{`deployment "web" is given more than once`, `invalid deployment name "Bad_Name"`, "--resource-version is one Deployment's"}},
		{name: "pause", args: []string{"pause", "web"}, actions: []string{get, patch}, out: "deployment.apps/web paused\n"},
		{name: "pause paused", args: []string{"pause", "web"}, paused: true, actions: []string{get}, out: "deployment.apps/web unchanged\n"},
		{name: "resume", args: []string{"resume", "web"}, paused: true, actions: []string{get, patch}, out: "deployment.apps/web resumed\n"},
		{name: "resume server dry run", args: []string{"resume", "web", "--dry-run=server"}, paused: true, actions: []string{get, patch},
			out: "deployment.apps/web resumed (server dry run)\n  paused true -> false\n"},
		{name: "resume has no --wait", args: []string{"resume", "web", "--wait"}, errs: []string{"unknown flag: --wait"}},
		{name: "pause nothing", args: []string{"pause"}, errs: []string{"no deployment given: name one or more, e.g. 'kubectl deploywatch pause web'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, out, errOut, err := runRollout(t, tt.paused, tt.args...)
			if len(tt.errs) == 0 && err != nil {
				t.Fatalf("error: %v", err)
			}
			for _, want := range tt.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v does not say %q", err, want)
				}
			}
			if tt.out != "" && out != tt.out {
				t.Errorf("output\n%s\nwant\n%s", out, tt.out)
			}
			if errOut != tt.errOut {
				t.Errorf("stderr %q, want %q", errOut, tt.errOut)
			}
			var got []string
			for _, a := range c.Actions() {
				got = append(got, a.GetVerb()+" "+a.GetResource().Resource)
			}
			if strings.Join(got, ",") != strings.Join(tt.actions, ",") {
				t.Errorf("actions %v, want %v", got, tt.actions)
			}
		})
	}
}
