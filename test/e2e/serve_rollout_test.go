package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeRolloutAPI: the history, undo, restart, pause, resume and
// permissions endpoints of serve against the real cluster, with scale's
// rules: a token for changes, a precondition that a concurrent change
// breaks (409, nothing written), JSON errors of the same shape, and
// read-only refusing every change.
func TestServeRolloutAPI(t *testing.T) {
	ns := testbed.NewNamespace(t)
	rolloutTwoRevisions(t, ns, "web", nil)
	p := startServe(t)
	path := "/api/namespaces/" + ns + "/deployments/web/"

	status, body := p.request(t, "GET", path+"history", "", nil)
	var h operations.History
	if err := json.Unmarshal(body, &h); status != 200 || err != nil || len(h.Revisions) != 2 || !h.Revisions[0].Current || h.Revisions[1].Revision != 1 {
		t.Fatalf("GET history: %d %s", status, body)
	}
	var perms struct{ ReadOnly, Scale, Patch, History bool }
	status, body = p.request(t, "GET", "/api/namespaces/"+ns+"/permissions", "", nil)
	if err := json.Unmarshal(body, &perms); status != 200 || err != nil || !perms.Scale || !perms.Patch || !perms.History || perms.ReadOnly {
		t.Errorf("GET permissions as the admin: %d %s", status, body)
	}

	status, body = p.request(t, "POST", path+"undo", `{"toRevision": 1}`, noAuth)
	apiErr(t, "undo without a token", status, body, 401, "Unauthorized")
	status, body = p.request(t, "POST", path+"undo", `{"toRevision": 9}`, p.auth())
	apiErr(t, "undo to no such revision", status, body, 404, "NotFound")
	status, body = p.request(t, "POST", path+"undo", `{"toRevision": 2}`, p.auth())
	apiErr(t, "undo to the current revision", status, body, 409, "Conflict")

	// A change made by someone else after the history was read: the undo
	// carrying the history's resourceVersion writes nothing.
	theirs := rolloutEdit(t, ns, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[1].Image = imageNew })
	status, body = p.request(t, "POST", path+"undo", `{"toRevision": 1, "resourceVersion": "`+h.ResourceVersion+`"}`, p.auth())
	apiErr(t, "undo with a stale resourceVersion", status, body, 409, "Conflict")
	if d := opsGet(t, ns, "web"); d.Generation != theirs.Generation || opsImages(d) != opsImages(theirs) {
		t.Fatalf("the refused undo wrote: generation %d -> %d, images %s", theirs.Generation, d.Generation, opsImages(d))
	}

	testutil.Eventually(t, time.Minute, "their change to roll out", func() bool { return rolloutSettled(opsGet(t, ns, "web")) })
	status, body = p.request(t, "GET", path+"history", "", nil)
	if err := json.Unmarshal(body, &h); status != 200 || err != nil {
		t.Fatalf("GET history: %d %s", status, body)
	}
	status, body = p.request(t, "POST", path+"undo", `{"toRevision": 1, "resourceVersion": "`+h.ResourceVersion+`"}`, p.auth())
	var res operations.Result
	if err := json.Unmarshal(body, &res); status != 200 || err != nil || !res.Changed || res.Changes[0] != (operations.Change{What: "revision", From: "3", To: "1"}) {
		t.Fatalf("undo: %d %s", status, body)
	}
	if got := opsImages(opsGet(t, ns, "web")); got != "init:migrate="+imageOld+",web="+imageOld+",sidecar="+imageOld {
		t.Errorf("images after undo: %s", got)
	}

	for _, step := range []struct {
		what, body string
		changed    bool
		paused     bool
	}{
		{"pause", "", true, true},
		{"pause", "{}", false, true},
		{"resume", "", true, false},
		{"restart", "", true, false},
	} {
		status, body := p.request(t, "POST", path+step.what, step.body, p.auth())
		var res operations.Result
		if err := json.Unmarshal(body, &res); status != 200 || err != nil || res.Changed != step.changed {
			t.Errorf("%s: %d %s, want changed %v", step.what, status, body, step.changed)
		}
		if got := opsGet(t, ns, "web").Spec.Paused; got != step.paused {
			t.Errorf("after %s: paused %v", step.what, got)
		}
	}
	if _, err := time.Parse(time.RFC3339, opsGet(t, ns, "web").Spec.Template.Annotations[operations.RestartedAtAnnotation]); err != nil {
		t.Errorf("restart left no RFC 3339 restartedAt: %v", err)
	}

	ro := startServe(t, "--read-only")
	for _, what := range []string{"undo", "restart", "pause", "resume"} {
		status, body := ro.request(t, "POST", path+what, "{}", ro.auth())
		apiErr(t, what+" on a read-only server", status, body, 403, "ReadOnly")
	}
	status, body = ro.request(t, "GET", "/api/namespaces/"+ns+"/permissions", "", nil)
	if err := json.Unmarshal(body, &perms); status != 200 || err != nil || !perms.ReadOnly || perms.Patch || perms.Scale {
		t.Errorf("GET permissions read-only: %d %s", status, body)
	}
}

// TestServeRolloutPermissionsOfAViewer: serve running as a user who may
// only read Deployments in one namespace reports no change permitted there,
// and the API server refuses a change it is sent anyway (403, with the
// hint naming the verb and resource).
func TestServeRolloutPermissionsOfAViewer(t *testing.T) {
	ns := testbed.NewNamespace(t)
	rolloutTwoRevisions(t, ns, "web", nil)
	viewer := rolloutKubeconfig(t, ns, "viewer",
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}})
	p := startServe(t, "--kubeconfig", viewer)
	var perms struct{ ReadOnly, Scale, Patch, History bool }
	status, body := p.request(t, "GET", "/api/namespaces/"+ns+"/permissions", "", nil)
	if err := json.Unmarshal(body, &perms); status != 200 || err != nil || perms.Scale || perms.Patch || perms.History || perms.ReadOnly {
		t.Errorf("GET permissions as a viewer: %d %s", status, body)
	}
	rv := opsGet(t, ns, "web").ResourceVersion
	status, body = p.request(t, "POST", "/api/namespaces/"+ns+"/deployments/web/pause", "", p.auth())
	apiErr(t, "pause as a viewer", status, body, 403, "Forbidden")
	if !strings.Contains(string(body), "pause needs get and patch on deployments") {
		t.Errorf("the refusal does not say what is needed: %s", body)
	}
	status, body = p.request(t, "GET", "/api/namespaces/"+ns+"/deployments/web/history", "", nil)
	apiErr(t, "history as a viewer", status, body, 403, "Forbidden")
	if got := opsGet(t, ns, "web").ResourceVersion; got != rv {
		t.Errorf("resourceVersion moved from %s to %s", rv, got)
	}
}
