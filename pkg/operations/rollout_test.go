package operations

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// rolledDeployment is web in shop at revision 2 (nginx:1.27), with revision
// 1 (nginx:1.26) before it, as the deployment controller leaves them.
func rolledDeployment() *appsv1.Deployment {
	d := newDeployment(3)
	d.ResourceVersion = "7"
	d.Annotations = map[string]string{RevisionAnnotation: "2", ChangeCauseAnnotation: "bump to 1.27", "team": "shop"}
	return d
}

// replicaSet is a ReplicaSet of web (or of another owner) at revision rev.
func replicaSet(name string, owner types.UID, rev string, image string, replicas int32, age time.Duration, annotations map[string]string) *appsv1.ReplicaSet {
	isController := true
	a := map[string]string{}
	if rev != "" {
		a[RevisionAnnotation] = rev
	}
	for k, v := range annotations {
		a[k] = v
	}
	labels := map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: labels, Annotations: a,
			CreationTimestamp: metav1.NewTime(t0.Add(-age)),
			OwnerReferences:   []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: owner, Controller: &isController}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
		}},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: replicas},
	}
}

// rolloutObjects are web and its ReplicaSets, plus two that are not its
// revisions: one of another Deployment with the same labels, and one
// without a revision number.
func rolloutObjects() []runtime.Object {
	return []runtime.Object{
		rolledDeployment(),
		replicaSet("web-1", "uid-web", "1", "nginx:1.26", 0, 2*time.Hour, map[string]string{ChangeCauseAnnotation: "first", "team": "old"}),
		replicaSet("web-2", "uid-web", "2", "nginx:1.27", 3, time.Hour, map[string]string{ChangeCauseAnnotation: "bump to 1.27"}),
		replicaSet("other-9", "uid-other", "9", "nginx:9", 1, time.Hour, nil),
		replicaSet("web-x", "uid-web", "", "nginx:0", 0, time.Hour, nil),
	}
}

func revisionNumbers(h History) []int64 {
	var out []int64
	for _, r := range h.Revisions {
		out = append(out, r.Revision)
	}
	return out
}

func TestGetHistory(t *testing.T) {
	c := rolloutClient(t)
	h, err := GetHistory(context.Background(), c.AppsV1(), HistoryRequest{Namespace: "shop", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if got := revisionNumbers(h); !slices.Equal(got, []int64{2, 1}) {
		t.Fatalf("revisions = %v, want [2 1] (owned, numbered, newest first)", got)
	}
	r2, r1 := h.Revisions[0], h.Revisions[1]
	if !r2.Current || r1.Current {
		t.Errorf("current: revision 2 %v, revision 1 %v; want only 2", r2.Current, r1.Current)
	}
	if r1.ReplicaSet != "web-1" || r1.ChangeCause != "first" || !r1.Created.Equal(t0.Add(-2*time.Hour)) || r1.Replicas == nil || *r1.Replicas != 0 ||
		!slices.Equal(r1.Containers, []ContainerImage{{"web", "nginx:1.26"}}) {
		t.Errorf("revision 1 = %+v", r1)
	}
	if r2.Replicas == nil || *r2.Replicas != 3 || r2.ReadyReplicas == nil || *r2.ReadyReplicas != 3 || r2.ChangeCause != "bump to 1.27" {
		t.Errorf("revision 2 = %+v", r2)
	}
	if h.ResourceVersion != "7" || h.Paused {
		t.Errorf("history = %+v", h)
	}

	h, err = GetHistory(context.Background(), c.AppsV1(), HistoryRequest{Namespace: "shop", Name: "web", Revision: 1})
	if err != nil || !slices.Equal(revisionNumbers(h), []int64{1}) {
		t.Errorf("--revision 1: %v, %v", revisionNumbers(h), err)
	}
	_, err = GetHistory(context.Background(), c.AppsV1(), HistoryRequest{Namespace: "shop", Name: "web", Revision: 9})
	if ReasonOf(err) != NotFound || !strings.Contains(err.Error(), `has no revision 9; its revisions: 2, 1`) {
		t.Errorf("revision 9 of another deployment: %v", err)
	}
	_, err = GetHistory(context.Background(), c.AppsV1(), HistoryRequest{Namespace: "shop", Name: "nope"})
	if ReasonOf(err) != NotFound {
		t.Errorf("no such deployment: %v", err)
	}
	before := len(c.Actions())
	_, err = GetHistory(context.Background(), c.AppsV1(), HistoryRequest{Namespace: "Shop", Name: "web", Revision: -1})
	if ReasonOf(err) != BadRequest || len(ProblemsOf(err)) != 2 || len(c.Actions()) != before {
		t.Errorf("bad input: %v (%d requests, none wanted)", err, len(c.Actions())-before)
	}

	c.PrependReactor("list", "replicasets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "replicasets"}, "", nil)
	})
	_, err = GetHistory(context.Background(), c.AppsV1(), HistoryRequest{Namespace: "shop", Name: "web"})
	if ReasonOf(err) != Forbidden || !strings.Contains(err.Error(), "history needs list on replicasets") ||
		!strings.Contains(err.Error(), "kubectl auth can-i list replicasets -n shop") {
		t.Errorf("forbidden replicasets: %v", err)
	}
}

func TestUndo(t *testing.T) {
	const (
		get   = "get deployments"
		list  = "list replicasets"
		patch = "patch deployments"
	)
	paused := func(c *fake.Clientset) {
		d := deploymentOf(t, c).DeepCopy()
		d.Spec.Paused = true
		if err := c.Tracker().Update(deploymentsGVR, d, "shop"); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		req     UndoRequest
		setup   func(*fake.Clientset)
		reason  Reason
		message []string
		verbs   []string
		stored  string // web's image afterwards
		result  string // the result object's
		changes []Change
		// annotations of the result; default: revision 1's, with the
		// Deployment's revision number
		annotations map[string]string
	}{
		{name: "to the previous revision", verbs: []string{get, list, patch}, stored: "nginx:1.26",
			changes: []Change{{"revision", "2", "1"}, {"container web", "nginx:1.27", "nginx:1.26"}}},
		{name: "to a given revision", req: UndoRequest{ToRevision: 1}, verbs: []string{get, list, patch}, stored: "nginx:1.26"},
		{name: "right after a change, before the controller made its revision: back to the newest", verbs: []string{get, list, patch}, stored: "nginx:1.27",
			setup: func(c *fake.Clientset) {
				d := deploymentOf(t, c).DeepCopy()
				d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
				if err := c.Tracker().Update(deploymentsGVR, d, "shop"); err != nil {
					t.Fatal(err)
				}
			},
			changes:     []Change{{"revision", "none", "2"}, {"container web", "nginx:1.28", "nginx:1.27"}},
			annotations: map[string]string{RevisionAnnotation: "2", ChangeCauseAnnotation: "bump to 1.27"}},
		{name: "to the current revision", req: UndoRequest{ToRevision: 2}, verbs: []string{get, list}, stored: "nginx:1.27",
			reason: Conflict, message: []string{`deployment "web" in namespace "shop" is at revision 2 already; nothing was changed`}},
		{name: "to a revision that is not there", req: UndoRequest{ToRevision: 9}, verbs: []string{get, list}, stored: "nginx:1.27",
			reason: NotFound, message: []string{"has no revision 9; its revisions: 2, 1", "kubectl deploywatch history web -n shop"}},
		{name: "paused", setup: paused, verbs: []string{get}, stored: "nginx:1.27",
			reason: Conflict, message: []string{"is paused: an undo would not roll out", "kubectl deploywatch resume web -n shop"}},
		{name: "no earlier revision", verbs: []string{get, list}, stored: "nginx:1.27",
			setup: func(c *fake.Clientset) {
				if err := c.Tracker().Delete(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, "shop", "web-1"); err != nil {
					t.Fatal(err)
				}
			},
			reason: Conflict, message: []string{"has no earlier revision to undo to"}},
		{name: "resource version holds", req: UndoRequest{ResourceVersion: "7"}, verbs: []string{get, list, patch}, stored: "nginx:1.26"},
		{name: "resource version does not hold", req: UndoRequest{ResourceVersion: "6"}, verbs: []string{get}, stored: "nginx:1.27",
			reason: Conflict, message: []string{"is at resourceVersion 7, expected 6", "nothing was changed"}},
		{name: "client dry run writes nothing", req: UndoRequest{DryRun: DryRunClient}, verbs: []string{get, list}, stored: "nginx:1.27", result: "nginx:1.26"},
		{name: "server dry run sends dryRun=All", req: UndoRequest{DryRun: DryRunServer}, verbs: []string{get, list, patch}, stored: "nginx:1.27", result: "nginx:1.26",
			setup: func(c *fake.Clientset) { // the fake would persist it: answer as the API server does
				c.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
					if !slices.Equal(a.(k8stesting.PatchActionImpl).PatchOptions.DryRun, []string{metav1.DryRunAll}) {
						t.Error("server dry run without dryRun=All")
					}
					d, err := applyLocally(deploymentOf(t, c), a.(k8stesting.PatchActionImpl).GetPatch())
					return true, d, err
				})
			}},
		{name: "forbidden says what is needed", verbs: []string{get, list, patch}, stored: "nginx:1.27",
			setup: func(c *fake.Clientset) {
				c.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", nil)
				})
			},
			reason: Forbidden, message: []string{"undo needs get and patch on deployments", "kubectl auth can-i patch deployments -n shop"}},
		{name: "every bad input at once, before any request", req: UndoRequest{Namespace: "-x", Name: "a/b", DryRun: "yes", ToRevision: -2},
			reason: BadRequest, stored: "nginx:1.27",
			message: []string{`invalid namespace "-x"`, `invalid deployment name "a/b"`, `unknown dry-run mode "yes"`, "got -2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rolloutClient(t)
			if tt.setup != nil {
				tt.setup(c)
			}
			c.ClearActions()
			req := tt.req
			if req.Namespace == "" {
				req.Namespace, req.Name = "shop", "web"
			}
			res, err := Undo(context.Background(), c.AppsV1(), req)
			if got := ReasonOf(err); got != tt.reason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tt.reason)
			}
			for _, m := range tt.message {
				if err == nil || !strings.Contains(err.Error(), m) {
					t.Errorf("error %v does not say %q", err, m)
				}
			}
			if got := verbs(c); !slices.Equal(got, tt.verbs) {
				t.Errorf("actions = %v, want %v", got, tt.verbs)
			}
			stored := deploymentOf(t, c)
			if got := stored.Spec.Template.Spec.Containers[0].Image; got != tt.stored {
				t.Errorf("stored image = %s, want %s", got, tt.stored)
			}
			if err != nil {
				return
			}
			if !res.Changed {
				t.Error("changed = false")
			}
			if tt.changes != nil && !slices.Equal(res.Changes, tt.changes) {
				t.Errorf("changes = %v, want %v", res.Changes, tt.changes)
			}
			want := tt.result
			if want == "" {
				want = tt.stored
			}
			obj := res.Object.(*appsv1.Deployment)
			if got := obj.Spec.Template.Spec.Containers[0].Image; got != want {
				t.Errorf("result image = %s, want %s", got, want)
			}
			// The template goes back without the ReplicaSet's hash label,
			// and the annotations are the ReplicaSet's but for the
			// controller's own, as kubectl does.
			if _, ok := obj.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok || obj.Spec.Template.Labels["app"] != "web" {
				t.Errorf("template labels = %v", obj.Spec.Template.Labels)
			}
			wantAnn := tt.annotations
			if wantAnn == nil {
				wantAnn = map[string]string{RevisionAnnotation: "2", ChangeCauseAnnotation: "first", "team": "old"}
			}
			if !maps.Equal(obj.Annotations, wantAnn) {
				t.Errorf("annotations = %v, want %v", obj.Annotations, wantAnn)
			}
			for _, a := range c.Actions() {
				if p, ok := a.(k8stesting.PatchActionImpl); ok {
					var ops []jsonOp
					if err := json.Unmarshal(p.GetPatch(), &ops); err != nil || p.GetPatchType() != types.JSONPatchType {
						t.Fatalf("patch %s: %v", p.GetPatch(), err)
					}
					if ops[0] != (jsonOp{"test", "/metadata/resourceVersion", "7"}) {
						t.Errorf("first op = %+v, want a test of the resourceVersion read", ops[0])
					}
				}
			}
		})
	}
}

// TestUndoRace: a write between Undo's read and its patch makes the API
// server apply nothing. A status write by the controller is planned again
// and the undo goes through; a change of the spec by someone else is a
// Conflict, and their change stays.
func TestUndoRace(t *testing.T) {
	tests := []struct {
		name   string
		other  func(*appsv1.Deployment)
		reason Reason
		stored string
	}{
		{name: "status written: planned again", stored: "nginx:1.26",
			other: func(d *appsv1.Deployment) { d.Status.ObservedGeneration++ }},
		{name: "image changed: nothing written", reason: Conflict, stored: "nginx:1.28",
			other: func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
				d.Generation++
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rolloutClient(t)
			raced := false
			c.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
				if !raced {
					raced = true
					d := deploymentOf(t, c).DeepCopy()
					tt.other(d)
					bumpResourceVersion(d)
					if err := c.Tracker().Update(deploymentsGVR, d, "shop"); err != nil {
						t.Fatal(err)
					}
				}
				return false, nil, nil
			})
			_, err := Undo(context.Background(), c.AppsV1(), UndoRequest{Namespace: "shop", Name: "web"})
			if got := ReasonOf(err); got != tt.reason {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tt.reason)
			}
			if tt.reason != "" && !strings.Contains(err.Error(), "was changed by someone else while undo was being written; nothing was changed") {
				t.Errorf("error = %v", err)
			}
			if got := deploymentOf(t, c).Spec.Template.Spec.Containers[0].Image; got != tt.stored {
				t.Errorf("stored image = %s, want %s", got, tt.stored)
			}
		})
	}
}

func TestRestart(t *testing.T) {
	c := rolloutClient(t)
	req := RestartRequest{Namespace: "shop", Name: "web", Now: t0}
	res, err := Restart(context.Background(), c.AppsV1(), req)
	if err != nil || !res.Changed {
		t.Fatalf("restart: %+v, %v", res, err)
	}
	d := deploymentOf(t, c)
	if got := d.Spec.Template.Annotations[RestartedAtAnnotation]; got != "2026-11-30T12:00:00Z" {
		t.Errorf("restartedAt = %q", got)
	}
	if !slices.Equal(res.Changes, []Change{{"restartedAt", "never", "2026-11-30T12:00:00Z"}}) {
		t.Errorf("changes = %v", res.Changes)
	}

	// Again, later: the one annotation changes, others stay.
	d = d.DeepCopy()
	d.Spec.Template.Annotations["keep"] = "me"
	d.ResourceVersion = "8"
	if err := c.Tracker().Update(deploymentsGVR, d, "shop"); err != nil {
		t.Fatal(err)
	}
	req.Now = t0.Add(time.Minute)
	if res, err = Restart(context.Background(), c.AppsV1(), req); err != nil || !res.Changed {
		t.Fatalf("second restart: %+v, %v", res, err)
	}
	if got := deploymentOf(t, c).Spec.Template.Annotations; got[RestartedAtAnnotation] != "2026-11-30T12:01:00Z" || got["keep"] != "me" {
		t.Errorf("template annotations = %v", got)
	}

	// A client dry run changes only the result.
	c.ClearActions()
	req.Now, req.DryRun = t0.Add(2*time.Minute), DryRunClient
	res, err = Restart(context.Background(), c.AppsV1(), req)
	if err != nil || res.Object.(*appsv1.Deployment).Spec.Template.Annotations[RestartedAtAnnotation] != "2026-11-30T12:02:00Z" ||
		!slices.Equal(verbs(c), []string{"get deployments"}) {
		t.Errorf("client dry run: %v, actions %v", err, verbs(c))
	}

	// Paused: refused, nothing written.
	d = deploymentOf(t, c).DeepCopy()
	d.Spec.Paused = true
	if err := c.Tracker().Update(deploymentsGVR, d, "shop"); err != nil {
		t.Fatal(err)
	}
	req.DryRun, req.Now = DryRunNone, t0.Add(time.Hour)
	_, err = Restart(context.Background(), c.AppsV1(), req)
	if ReasonOf(err) != Conflict || !strings.Contains(err.Error(), "is paused: a restart would not replace its pods; nothing was changed; resume it first with 'kubectl deploywatch resume web -n shop'") {
		t.Errorf("paused: %v", err)
	}
	if got := deploymentOf(t, c).Spec.Template.Annotations[RestartedAtAnnotation]; got != "2026-11-30T12:01:00Z" {
		t.Errorf("paused restart wrote %q", got)
	}
}

func TestSetPaused(t *testing.T) {
	c := rolloutClient(t)
	for _, step := range []struct {
		paused, changed bool
		verbs           []string
	}{
		{true, true, []string{"get deployments", "patch deployments"}},
		{true, false, []string{"get deployments"}},
		{false, true, []string{"get deployments", "patch deployments"}},
		{false, false, []string{"get deployments"}},
	} {
		c.ClearActions()
		res, err := SetPaused(context.Background(), c.AppsV1(), PauseRequest{Namespace: "shop", Name: "web", Paused: step.paused})
		if err != nil || res.Changed != step.changed || !slices.Equal(verbs(c), step.verbs) {
			t.Errorf("paused=%v: changed %v, err %v, actions %v; want changed %v, %v", step.paused, res.Changed, err, verbs(c), step.changed, step.verbs)
		}
		if got := deploymentOf(t, c).Spec.Paused; got != step.paused {
			t.Errorf("spec.paused = %v, want %v", got, step.paused)
		}
	}
	_, err := SetPaused(context.Background(), c.AppsV1(), PauseRequest{Namespace: "shop", Name: "web", Paused: true, ResourceVersion: "1"})
	if ReasonOf(err) != Conflict || deploymentOf(t, c).Spec.Paused {
		t.Errorf("stale resourceVersion: %v", err)
	}
}

// rolloutClient is a fake clientset holding rolloutObjects whose JSON
// patches fail as the API server's do: a "test" op that does not hold is a
// bare 422 Invalid, without the patch library's message.
func rolloutClient(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	c := fake.NewClientset(append(rolloutObjects(), objs...)...)
	for _, resource := range []string{"deployments", "statefulsets", "daemonsets"} {
		gvr := appsv1.SchemeGroupVersion.WithResource(resource)
		c.PrependReactor("patch", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
			p := a.(k8stesting.PatchActionImpl)
			obj, err := c.Tracker().Get(gvr, p.GetNamespace(), p.GetName())
			if err != nil {
				return true, nil, err
			}
			was := obj.(object)
			d, err := applyLocally(was, p.GetPatch())
			if err != nil {
				return true, nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
			}
			if len(p.PatchOptions.DryRun) > 0 {
				return true, d, nil
			}
			if d.GetGeneration() == was.GetGeneration() && !apiequality.Semantic.DeepEqual(templateOf(d), templateOf(was)) {
				d.SetGeneration(d.GetGeneration() + 1)
			}
			if dd, ok := d.(*appsv1.Deployment); ok && dd.Generation == was.GetGeneration() &&
				!apiequality.Semantic.DeepEqual(dd.Spec, was.(*appsv1.Deployment).Spec) {
				dd.Generation++
			}
			bumpResourceVersion(d)
			return true, d, c.Tracker().Update(gvr, d, d.GetNamespace())
		})
	}
	return c
}

// TestGuardedPatchInvalid: a 422 with the resourceVersion unchanged on the
// next read was the API server refusing the change itself, not a lost race:
// it is returned after that one read, not retried.
func TestGuardedPatchInvalid(t *testing.T) {
	c := rolloutClient(t)
	c.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", nil)
	})
	_, err := SetPaused(context.Background(), c.AppsV1(), PauseRequest{Namespace: "shop", Name: "web", Paused: true})
	if ReasonOf(err) != Invalid {
		t.Errorf("reason = %q (%v), want Invalid", ReasonOf(err), err)
	}
	if got := verbs(c); !slices.Equal(got, []string{"get deployments", "patch deployments", "get deployments"}) {
		t.Errorf("actions = %v", got)
	}
}
