package e2e

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

const (
	imageOld = "registry.k8s.io/pause:3.10"
	imageNew = "registry.k8s.io/pause:3.9"
)

// rolloutTwoRevisions makes Deployment name in ns with revision 1 (every
// image imageOld) and revision 2 (web=imageNew, change cause "web to 3.9"),
// rolled out.
func rolloutTwoRevisions(t *testing.T, ns, name string, edit func(*appsv1.Deployment)) {
	t.Helper()
	opsDeployment(t, ns, name, 2, true, edit)
	rolloutEdit(t, ns, name, func(d *appsv1.Deployment) {
		d.Annotations[operations.ChangeCauseAnnotation] = "web to 3.9"
		d.Spec.Template.Spec.Containers[0].Image = imageNew
	})
	testutil.Eventually(t, time.Minute, "revision 2 to roll out", func() bool {
		d := opsGet(t, ns, name)
		return rolloutSettled(d) && d.Annotations[operations.RevisionAnnotation] == "2"
	})
}

// rolloutSettled is a rollout the controller is done with: it says
// NewReplicaSetAvailable and counts no old pod still terminating (it writes
// the status again when the last one is gone), so the resourceVersion stays
// put until someone changes the Deployment.
func rolloutSettled(d *appsv1.Deployment) bool {
	if !opsRolledOut(d) || (d.Status.TerminatingReplicas != nil && *d.Status.TerminatingReplicas != 0) {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			return c.Status == corev1.ConditionTrue && c.Reason == "NewReplicaSetAvailable"
		}
	}
	return false
}

// rolloutEdit changes the Deployment with the admin's client, as another
// user would.
func rolloutEdit(t *testing.T, ns, name string, edit func(*appsv1.Deployment)) *appsv1.Deployment {
	t.Helper()
	d := opsGet(t, ns, name)
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	edit(d)
	d, err := testbed.Clientset(t).AppsV1().Deployments(ns).Update(context.Background(), d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update deployment %s: %v", name, err)
	}
	return d
}

func rolloutHistory(t *testing.T, ns, name string) operations.History {
	t.Helper()
	r := opsRun(t, "-n", ns, "history", name, "-o", "json")
	var h operations.History
	if r.code != 0 {
		t.Fatalf("history -o json: exit %d: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("history -o json: %v\n%s", err, r.stdout)
	}
	return h
}

func currentRevision(h operations.History) int64 {
	for _, r := range h.Revisions {
		if r.Current {
			return r.Revision
		}
	}
	return 0
}

// TestRolloutHistoryAndUndo: history lists the real ReplicaSets' revisions
// (newest first, images, change cause, the current one); undo goes back to
// the previous revision and --wait follows the rollout to its end; undo
// --to-revision goes to a given one; the deployment controller numbers the
// revision brought back anew, as it does for kubectl.
func TestRolloutHistoryAndUndo(t *testing.T) {
	ns := testbed.NewNamespace(t)
	rolloutTwoRevisions(t, ns, "web", nil)

	r := opsRun(t, "-n", ns, "history", "web")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 3 {
		t.Fatalf("history: exit %d, %d lines:\n%s", r.code, len(lines), r.stdout)
	}
	opsContains(t, "the header", lines[0], "REVISION", "CURRENT", "READY", "AGE", "IMAGES", "CHANGE-CAUSE")
	opsContains(t, "revision 2", lines[1], "2 ", "*", "2/2", "web="+imageNew, "web to 3.9")
	opsContains(t, "revision 1", lines[2], "1 ", "0/0", "web="+imageOld+",sidecar="+imageOld+",init:migrate="+imageOld, "<none>")

	h := rolloutHistory(t, ns, "web")
	if len(h.Revisions) != 2 || h.Revisions[0].Revision != 2 || !h.Revisions[0].Current || h.Revisions[1].Current {
		t.Fatalf("history -o json: %+v", h)
	}
	if h.ResourceVersion != opsGet(t, ns, "web").ResourceVersion {
		t.Errorf("history resourceVersion %s, deployment's %s", h.ResourceVersion, opsGet(t, ns, "web").ResourceVersion)
	}

	r = opsRun(t, "-n", ns, "history", "web", "--revision", "1", "-o", "ndjson")
	var one struct {
		Name     string `json:"name"`
		Revision int64  `json:"revision"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &one); err != nil || r.code != 0 || one.Revision != 1 || one.Name != "web" || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("history --revision 1 -o ndjson: exit %d, %v, %q", r.code, err, r.stdout)
	}

	before := opsGet(t, ns, "web")
	r = opsRun(t, "-n", ns, "undo", "web", "--wait", "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("undo --wait: exit %d: %s", r.code, r.stderr)
	}
	opsContains(t, "undo's output", r.stdout, "deployment.apps/web rolled back to revision 1\n", `deployment "web" successfully rolled out`)
	after := opsGet(t, ns, "web")
	if after.Generation <= before.Generation || !opsRolledOut(after) {
		t.Errorf("undo --wait returned before the rollout: generation %d -> %d, status %+v", before.Generation, after.Generation, after.Status)
	}
	if got := after.Spec.Template.Spec.Containers[0].Image; got != imageOld {
		t.Errorf("image after undo = %s, want %s", got, imageOld)
	}
	if _, ok := after.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Errorf("the template kept the ReplicaSet's hash label: %v", after.Spec.Template.Labels)
	}
	if _, ok := after.Annotations[operations.ChangeCauseAnnotation]; ok {
		t.Errorf("revision 1 had no change cause, the Deployment has %q", after.Annotations[operations.ChangeCauseAnnotation])
	}
	// The controller took revision 1's ReplicaSet back as revision 3.
	testutil.Eventually(t, time.Minute, "revision 3 to be current", func() bool { return currentRevision(rolloutHistory(t, ns, "web")) == 3 })
	h = rolloutHistory(t, ns, "web")
	if got := []int64{h.Revisions[0].Revision, h.Revisions[1].Revision}; len(h.Revisions) != 2 || !slices.Equal(got, []int64{3, 2}) ||
		!slices.Equal(h.Revisions[0].Earlier, []int64{1}) {
		t.Errorf("history after undo: %+v", h.Revisions)
	}

	r = opsRun(t, "-n", ns, "undo", "web", "--to-revision=2", "--wait")
	if r.code != 0 {
		t.Fatalf("undo --to-revision=2: exit %d: %s", r.code, r.stderr)
	}
	d := opsGet(t, ns, "web")
	if d.Spec.Template.Spec.Containers[0].Image != imageNew || d.Annotations[operations.ChangeCauseAnnotation] != "web to 3.9" {
		t.Errorf("after undo to 2: image %s, change cause %q", d.Spec.Template.Spec.Containers[0].Image, d.Annotations[operations.ChangeCauseAnnotation])
	}
}

// TestRolloutUndoAfterFailedRollout: the case other tools get wrong. A
// change whose rollout fails for real, by a bad image (the test bed's
// kubelet cannot pull it: ImagePullBackOff) or by pods no node can take,
// exceeds its progress deadline (ProgressDeadlineExceeded); undo --wait
// brings the Deployment back to Running, exit 0.
func TestRolloutUndoAfterFailedRollout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(*appsv1.Deployment)
	}{
		{"bad image", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = testbed.FaultImage(testbed.FaultImagePull)
		}},
		{"unschedulable", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = imageNew
			d.Spec.Template.Spec.NodeSelector = map[string]string{"deploywatch.test/no-such-node": "true"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := testbed.NewNamespace(t)
			opsDeployment(t, ns, "web", 2, true, func(d *appsv1.Deployment) {
				deadline := int32(5)
				d.Spec.ProgressDeadlineSeconds = &deadline
			})
			rolloutEdit(t, ns, "web", tc.breakIt)
			testutil.Eventually(t, time.Minute, "the rollout to fail", func() bool { return opsFailed(opsGet(t, ns, "web")) })
			r := opsRun(t, "-n", ns, "watch", "--until-complete", "--timeout=30s")
			if r.code != 1 {
				t.Fatalf("watch --until-complete on the failed rollout: exit %d, want 1:\n%s", r.code, r.stdout)
			}

			r = opsRun(t, "-n", ns, "undo", "web", "--wait", "--timeout=2m")
			if r.code != 0 {
				t.Fatalf("undo --wait after the failed rollout: exit %d: %s", r.code, r.stderr)
			}
			opsContains(t, "undo's output", r.stdout, "deployment.apps/web rolled back to revision 1\n", `deployment "web" successfully rolled out`)
			d := opsGet(t, ns, "web")
			if !opsRolledOut(d) || opsFailed(d) || d.Spec.Template.Spec.NodeSelector != nil || d.Spec.Template.Spec.Containers[0].Image != imageOld {
				t.Errorf("after undo: rolled out %v, failed %v, nodeSelector %v, image %s", opsRolledOut(d), opsFailed(d), d.Spec.Template.Spec.NodeSelector, d.Spec.Template.Spec.Containers[0].Image)
			}
			r = opsRun(t, "-n", ns, "watch", "--until-complete", "--timeout=1m", "-o", "ndjson")
			if r.code != 0 || !strings.Contains(r.stdout, `"status":"Running"`) {
				t.Errorf("watch --until-complete after undo: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestRolloutRestartPauseResume: restart sets the restartedAt annotation as
// kubectl does and --wait follows the new pods to the end; pause and resume
// set spec.paused and write nothing when it already is so; a paused
// Deployment refuses restart and undo with nothing written.
func TestRolloutRestartPauseResume(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 2, true, nil)
	opsDeployment(t, ns, "api", 1, true, nil)

	start := time.Now().Add(-time.Second).Truncate(time.Second)
	r := opsRun(t, "-n", ns, "restart", "web", "deployment/api", "--wait", "--timeout=2m")
	if r.code != 0 {
		t.Fatalf("restart --wait: exit %d: %s", r.code, r.stderr)
	}
	opsContains(t, "restart's output", r.stdout, "deployment.apps/web restarted\n", "deployment.apps/api restarted\n",
		`deployment "web" successfully rolled out`, `deployment "api" successfully rolled out`)
	for _, name := range []string{"web", "api"} {
		d := opsGet(t, ns, name)
		at, err := time.Parse(time.RFC3339, d.Spec.Template.Annotations[operations.RestartedAtAnnotation])
		if err != nil || at.Before(start) || !opsRolledOut(d) {
			t.Errorf("%s: restartedAt %q (%v), rolled out %v", name, d.Spec.Template.Annotations[operations.RestartedAtAnnotation], err, opsRolledOut(d))
		}
	}
	if h := rolloutHistory(t, ns, "web"); len(h.Revisions) != 2 || currentRevision(h) != 2 {
		t.Errorf("history after restart: %+v", h.Revisions)
	}

	r = opsRun(t, "-n", ns, "pause", "web")
	if r.code != 0 || r.stdout != "deployment.apps/web paused\n" || !opsGet(t, ns, "web").Spec.Paused {
		t.Fatalf("pause: exit %d, %q, paused %v", r.code, r.stdout, opsGet(t, ns, "web").Spec.Paused)
	}
	testutil.Eventually(t, time.Minute, "the controller to see the pause", func() bool {
		d := opsGet(t, ns, "web")
		return d.Status.ObservedGeneration >= d.Generation && pausedCondition(d)
	})
	rv := opsGet(t, ns, "web").ResourceVersion
	r = opsRun(t, "-n", ns, "pause", "web")
	if r.code != 0 || r.stdout != "deployment.apps/web unchanged\n" {
		t.Errorf("pause again: exit %d, %q", r.code, r.stdout)
	}
	for _, args := range [][]string{{"restart", "web"}, {"undo", "web"}} {
		r = opsRun(t, append([]string{"-n", ns}, args...)...)
		if r.code != 1 {
			t.Errorf("%v while paused: exit %d, want 1", args, r.code)
		}
		opsBadInputMessage(t, r, `deployment "web" in namespace "`+ns+`" is paused`, "nothing was changed",
			"resume it first with 'kubectl deploywatch resume web -n "+ns+"'")
	}
	if got := opsGet(t, ns, "web").ResourceVersion; got != rv {
		t.Errorf("resourceVersion moved from %s to %s", rv, got)
	}

	r = opsRun(t, "-n", ns, "resume", "web", "api")
	if r.code != 0 || r.stdout != "deployment.apps/web resumed\ndeployment.apps/api unchanged\n" || opsGet(t, ns, "web").Spec.Paused {
		t.Errorf("resume: exit %d, %q", r.code, r.stdout)
	}

	// Shell completion offers the namespace's Deployments, and for the
	// commands that take several, those not given yet.
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"undo", ""}, []string{"api", "web"}},
		{[]string{"history", "w"}, []string{"web"}},
		{[]string{"restart", "web", ""}, []string{"api"}},
		{[]string{"pause", "api", ""}, []string{"web"}},
	} {
		wantCompletions(t, ns, tc.args, tc.want)
	}
}

// wantCompletions checks what `kubectl deploywatch __complete -n ns
// args...` (the shell's completion) offers.
func wantCompletions(t *testing.T, ns string, args, want []string) {
	t.Helper()
	r := opsRun(t, append([]string{"__complete", "-n", ns}, args...)...)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !strings.HasPrefix(l, ":") {
			got = append(got, l)
		}
	}
	if r.code != 0 || !slices.Equal(got, want) {
		t.Errorf("completion of %q: exit %d, %q, want %q", args, r.code, got, want)
	}
}

// TestRolloutDryRunsAndBadInput: dry runs and refused requests leave the
// Deployment's resourceVersion where it was, each refusal is one line that
// names the problem and the fix, with a non-zero exit.
func TestRolloutDryRunsAndBadInput(t *testing.T) {
	ns := testbed.NewNamespace(t)
	rolloutTwoRevisions(t, ns, "web", nil)
	rv := opsGet(t, ns, "web").ResourceVersion

	// A dry run says what would change, one line a change.
	undone := "  revision 2 -> 1\n  container web: " + imageNew + " -> registry.k8s.io/pause:3.10\n"
	for _, tc := range []struct {
		args []string
		out  string // a regular expression
	}{
		{[]string{"undo", "web", "--dry-run=client"}, regexp.QuoteMeta("deployment.apps/web rolled back to revision 1 (dry run)\n" + undone)},
		{[]string{"undo", "web", "--dry-run=server"}, regexp.QuoteMeta("deployment.apps/web rolled back to revision 1 (server dry run)\n" + undone)},
		{[]string{"restart", "web", "--dry-run=server"}, regexp.QuoteMeta("deployment.apps/web restarted (server dry run)\n  restartedAt never -> ") + `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n`},
		{[]string{"pause", "web", "--dry-run=server"}, regexp.QuoteMeta("deployment.apps/web paused (server dry run)\n  paused false -> true\n")},
		{[]string{"pause", "web", "--dry-run=client"}, regexp.QuoteMeta("deployment.apps/web paused (dry run)\n  paused false -> true\n")},
		{[]string{"resume", "web"}, regexp.QuoteMeta("deployment.apps/web unchanged\n")},
	} {
		r := opsRun(t, append([]string{"-n", ns}, tc.args...)...)
		if r.code != 0 || !regexp.MustCompile(`\A`+tc.out+`\z`).MatchString(r.stdout) {
			t.Errorf("%v: exit %d, stdout %q, want %q", tc.args, r.code, r.stdout, tc.out)
		}
		if got := opsGet(t, ns, "web").ResourceVersion; got != rv {
			t.Errorf("%v: resourceVersion moved from %s to %s", tc.args, rv, got)
		}
	}
	// A client dry run prints the Deployment as it would be.
	r := opsRun(t, "-n", ns, "undo", "web", "--dry-run=client", "-o", "json")
	var d appsv1.Deployment
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || d.Spec.Template.Spec.Containers[0].Image != imageOld {
		t.Errorf("undo --dry-run=client -o json: %v\n%s", err, r.stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no such revision", []string{"undo", "web", "--to-revision=9"},
			[]string{`deployment "web" in namespace "` + ns + `" has no revision 9; its revisions: 2, 1`, "kubectl deploywatch history web -n " + ns}},
		{"history of no such revision", []string{"history", "web", "--revision=9"},
			[]string{`has no revision 9; its revisions: 2, 1`}},
		{"undo to the current revision", []string{"undo", "web", "--to-revision=2"},
			[]string{`deployment "web" in namespace "` + ns + `" is at revision 2 already; nothing was changed`}},
		{"revision that is no number", []string{"undo", "web", "--to-revision=last"},
			[]string{`--to-revision must be a whole number, got "last"`}},
		{"every problem at once", []string{"undo", "--to-revision=-1", "--dry-run=yes", "--wait"},
			[]string{"no deployment given", "--to-revision must be a positive number, got -1", `unknown dry-run mode "yes"`}},
		{"no such deployment", []string{"restart", "nope"},
			[]string{`deployment "nope" not found in namespace "` + ns + `"`}},
		{"stale resource version", []string{"undo", "web", "--resource-version=1"},
			[]string{"precondition failed", "is at resourceVersion " + rv + ", expected 1; nothing was changed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := opsRun(t, append([]string{"-n", ns}, tc.args...)...)
			if r.code == 0 {
				t.Errorf("exit 0, want non-zero")
			}
			opsBadInputMessage(t, r, tc.want...)
			if got := opsGet(t, ns, "web").ResourceVersion; got != rv {
				t.Errorf("resourceVersion moved from %s to %s", rv, got)
			}
		})
	}
}

// TestRolloutPreconditionConflict: with the resourceVersion a user read
// (from history), a change someone else made in between makes undo,
// restart, pause and resume write nothing; the other change stays.
func TestRolloutPreconditionConflict(t *testing.T) {
	ns := testbed.NewNamespace(t)
	rolloutTwoRevisions(t, ns, "web", nil)
	read := rolloutHistory(t, ns, "web").ResourceVersion

	// Someone else changes the image between the read and the write.
	theirs := rolloutEdit(t, ns, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[1].Image = imageNew })
	testutil.Eventually(t, time.Minute, "their change to roll out", func() bool { return rolloutSettled(opsGet(t, ns, "web")) })
	now := opsGet(t, ns, "web")

	for _, args := range [][]string{
		{"undo", "web", "--to-revision=1"},
		{"restart", "web"},
		{"pause", "web"},
	} {
		r := opsRun(t, append(append([]string{"-n", ns}, args...), "--resource-version="+read)...)
		if r.code != 1 {
			t.Errorf("%v: exit %d, want 1", args, r.code)
		}
		opsBadInputMessage(t, r, `precondition failed: deployment "web" in namespace "`+ns+`" is at resourceVersion `+now.ResourceVersion+", expected "+read+"; nothing was changed")
	}
	d := opsGet(t, ns, "web")
	if d.ResourceVersion != now.ResourceVersion || d.Generation != theirs.Generation || opsImages(d) != opsImages(theirs) || d.Spec.Paused {
		t.Errorf("the refused changes wrote something: rv %s -> %s, images %s", now.ResourceVersion, d.ResourceVersion, opsImages(d))
	}
	// With the resourceVersion read now, the undo goes through.
	r := opsRun(t, "-n", ns, "undo", "web", "--to-revision=1", "--resource-version="+d.ResourceVersion)
	if r.code != 0 || opsImages(opsGet(t, ns, "web")) != "init:migrate="+imageOld+",web="+imageOld+",sidecar="+imageOld {
		t.Errorf("undo with a holding precondition: exit %d, images %s", r.code, opsImages(opsGet(t, ns, "web")))
	}
}

// TestRolloutOneNamespaceUsers: RBAC refusals name the verb and resource
// missing. A user who may only read Deployments in one namespace cannot
// list the history (replicasets); one who may read Deployments and
// ReplicaSets but not patch can see the history but not undo, restart or
// pause; nothing is written.
func TestRolloutOneNamespaceUsers(t *testing.T) {
	ns := testbed.NewNamespace(t)
	rolloutTwoRevisions(t, ns, "web", nil)
	readDeployments := rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}}
	viewer := rolloutKubeconfig(t, ns, "viewer", readDeployments)
	auditor := rolloutKubeconfig(t, ns, "auditor", readDeployments,
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list"}})
	rv := opsGet(t, ns, "web").ResourceVersion
	user := func(name string) string { return `User "system:serviceaccount:` + ns + `:` + name + `"` }

	r := opsRun(t, "--kubeconfig", viewer, "history", "web")
	opsBadInputMessage(t, r, user("viewer")+` cannot list resource "replicasets"`,
		`history needs list on replicasets in namespace "`+ns+`"`, "kubectl auth can-i list replicasets -n "+ns)

	r = opsRun(t, "--kubeconfig", auditor, "history", "web")
	if r.code != 0 || !strings.Contains(r.stdout, "web="+imageNew) {
		t.Errorf("history as the auditor: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		op   string
	}{
		{[]string{"undo", "web"}, "undo"},
		{[]string{"restart", "web"}, "restart"},
		{[]string{"pause", "web"}, "pause"},
	} {
		r := opsRun(t, append([]string{"--kubeconfig", auditor}, tc.args...)...)
		if r.code != 1 {
			t.Errorf("%v as the auditor: exit %d, want 1", tc.args, r.code)
		}
		opsBadInputMessage(t, r, user("auditor")+` cannot patch resource "deployments"`,
			tc.op+` needs get and patch on deployments in namespace "`+ns+`"`, "kubectl auth can-i patch deployments -n "+ns)
	}
	if got := opsGet(t, ns, "web").ResourceVersion; got != rv {
		t.Errorf("resourceVersion moved from %s to %s", rv, got)
	}
}

// rolloutKubeconfig makes ServiceAccount name in ns with rules there, and
// returns the path of a kubeconfig that uses its token.
func rolloutKubeconfig(t *testing.T, ns, name string, rules ...rbacv1.PolicyRule) string {
	t.Helper()
	cs := testbed.Clientset(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	path := serviceAccountKubeconfigOf(t, testbed.Shared(), ns, name)
	testutil.Eventually(t, 30*time.Second, name+"'s token to be accepted", func() bool {
		out, _, err := testbed.KubectlErr("--kubeconfig", path, "auth", "can-i", "get", "deployments")
		return err == nil && strings.TrimSpace(out) == "yes"
	})
	return path
}

// pausedCondition: the controller has written that the Deployment is paused.
func pausedCondition(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			return c.Reason == "DeploymentPaused"
		}
	}
	return false
}
