package operations

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestParseWorkload(t *testing.T) {
	for _, tt := range []struct {
		arg  string
		kind Kind
		name string
		bad  bool
	}{
		{"web", Deployment, "web", false},
		{"deploy/web", Deployment, "web", false},
		{"deployment/web", Deployment, "web", false},
		{"deployments.apps/web", Deployment, "web", false},
		{"sts/db", StatefulSet, "db", false},
		{"statefulset/db", StatefulSet, "db", false},
		{"statefulsets/db", StatefulSet, "db", false},
		{"StatefulSet/db", StatefulSet, "db", false},
		{"ds/agent", DaemonSet, "agent", false},
		{"daemonset/agent", DaemonSet, "agent", false},
		{"daemonsets.apps/agent", DaemonSet, "agent", false},
		{"rs/web-1", Deployment, "rs/web-1", true},
		{"pod/x", Deployment, "pod/x", true},
	} {
		kind, name, err := ParseWorkload(tt.arg)
		if kind != tt.kind || name != tt.name || (err != nil) != tt.bad {
			t.Errorf("ParseWorkload(%q) = %q, %q, %v; want %q, %q, bad %v", tt.arg, kind, name, err, tt.kind, tt.name, tt.bad)
		}
		if tt.bad && !strings.Contains(err.Error(), "sts/NAME") {
			t.Errorf("ParseWorkload(%q): %v does not say which types there are", tt.arg, err)
		}
	}
}

var (
	statefulSetsGVR = appsv1.SchemeGroupVersion.WithResource("statefulsets")
	daemonSetsGVR   = appsv1.SchemeGroupVersion.WithResource("daemonsets")
)

func podTemplate(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: image}}},
	}
}

func newStatefulSet(image string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", UID: "sts-uid", ResourceVersion: "10", Generation: 3},
		Spec: appsv1.StatefulSetSpec{Replicas: int32p(2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: podTemplate(image)},
	}
}

func newDaemonSet(image string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "shop", UID: "ds-uid", ResourceVersion: "20", Generation: 1},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: podTemplate(image)},
	}
}

// controllerRevision is what the StatefulSet and DaemonSet controllers
// store: the template as a patch, owned by the workload.
func controllerRevision(t *testing.T, owner metav1.Object, kind string, rev int64, image string) *appsv1.ControllerRevision {
	t.Helper()
	tmpl := podTemplate(image)
	raw, err := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
	if err != nil {
		t.Fatal(err)
	}
	// The controllers add "$patch":"replace" to the template.
	raw = []byte(strings.Replace(string(raw), `"template":{`, `"template":{"$patch":"replace",`, 1))
	isController := true
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: owner.GetName() + "-" + image[strings.Index(image, ":")+1:], Namespace: "shop",
			Labels:            map[string]string{"app": "db"},
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(rev) * time.Minute)),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: owner.GetName(),
				UID: owner.GetUID(), Controller: &isController}},
		},
		Data:     runtime.RawExtension{Raw: raw},
		Revision: rev,
	}
}

// rolledStatefulSet is db at nginx:3 (revision 3), rolled back once: the
// controller renumbered the template of 1 as 3, so revisions are 2 and 3
// (plus a ControllerRevision of another owner with the same labels).
func rolledStatefulSet(t *testing.T) (*appsv1.StatefulSet, []runtime.Object) {
	sts := newStatefulSet("db:3")
	other := newStatefulSet("db:9")
	other.Name, other.UID = "other", "other-uid"
	return sts, []runtime.Object{sts,
		controllerRevision(t, sts, "StatefulSet", 3, "db:3"),
		controllerRevision(t, sts, "StatefulSet", 1, "db:1"),
		controllerRevision(t, sts, "StatefulSet", 2, "db:2"),
		controllerRevision(t, other, "StatefulSet", 7, "db:9"),
	}
}

func TestControllerRevisionHistory(t *testing.T) {
	_, objs := rolledStatefulSet(t)
	c := rolloutClient(t, objs...)
	h, err := GetHistory(context.Background(), c.AppsV1(), HistoryRequest{Kind: StatefulSet, Namespace: "shop", Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range h.Revisions {
		got = append(got, r.Revision)
		if r.Current != (r.Revision == 3) {
			t.Errorf("revision %d current = %v", r.Revision, r.Current)
		}
		if r.Replicas != nil || r.ReplicaSet != "" || r.ControllerRevision == "" {
			t.Errorf("revision %d = %+v: want a ControllerRevision and no pod counts", r.Revision, r)
		}
	}
	if !slices.Equal(got, []int64{3, 2, 1}) {
		t.Errorf("revisions = %v, want 3, 2, 1 (newest first, another owner's left out)", got)
	}
	if h.Kind != StatefulSet || h.Revisions[1].Containers[0].Image != "db:2" {
		t.Errorf("history = %+v", h)
	}
	if _, err := GetHistory(context.Background(), c.AppsV1(), HistoryRequest{Kind: StatefulSet, Namespace: "shop", Name: "db", Revision: 5}); ReasonOf(err) != NotFound ||
		!strings.Contains(err.Error(), "statefulset \"db\"") || !strings.Contains(err.Error(), "history sts/db") {
		t.Errorf("revision 5: %v, want NotFound naming the statefulset", err)
	}
}

// patches returns the JSON patches sent to resource.
func patches(c *fake.Clientset, resource string) []string {
	var out []string
	for _, a := range c.Actions() {
		if p, ok := a.(k8stesting.PatchActionImpl); ok && a.GetResource().Resource == resource {
			if p.GetPatchType() != types.JSONPatchType {
				out = append(out, "not a JSON patch: "+string(p.GetPatchType()))
			}
			out = append(out, string(p.GetPatch()))
		}
	}
	return out
}

func TestUndoStatefulSet(t *testing.T) {
	ctx := context.Background()
	t.Run("previous", func(t *testing.T) {
		_, objs := rolledStatefulSet(t)
		c := rolloutClient(t, objs...)
		res, err := Undo(ctx, c.AppsV1(), UndoRequest{Kind: StatefulSet, Namespace: "shop", Name: "db"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || res.Kind != StatefulSet || res.Changes[0] != (Change{"revision", "3", "2"}) {
			t.Errorf("result = %+v", res)
		}
		ps := patches(c, "statefulsets")
		if len(ps) != 1 || !strings.HasPrefix(ps[0], `[{"op":"test","path":"/metadata/resourceVersion","value":"10"},{"op":"replace","path":"/spec/template",`) ||
			strings.Contains(ps[0], "annotations\",") {
			t.Errorf("patches = %v, want one guarded template replace", ps)
		}
		obj, _ := c.Tracker().Get(statefulSetsGVR, "shop", "db")
		if got := obj.(*appsv1.StatefulSet).Spec.Template.Spec.Containers[0].Image; got != "db:2" {
			t.Errorf("image = %s, want db:2", got)
		}
	})
	t.Run("to revision", func(t *testing.T) {
		_, objs := rolledStatefulSet(t)
		c := rolloutClient(t, objs...)
		if _, err := Undo(ctx, c.AppsV1(), UndoRequest{Kind: StatefulSet, Namespace: "shop", Name: "db", ToRevision: 1}); err != nil {
			t.Fatal(err)
		}
		obj, _ := c.Tracker().Get(statefulSetsGVR, "shop", "db")
		if got := obj.(*appsv1.StatefulSet).Spec.Template.Spec.Containers[0].Image; got != "db:1" {
			t.Errorf("image = %s, want db:1", got)
		}
	})
	refused := []struct {
		name   string
		req    UndoRequest
		reason Reason
	}{
		{"current", UndoRequest{ToRevision: 3}, Conflict},
		{"missing", UndoRequest{ToRevision: 9}, NotFound},
		{"precondition", UndoRequest{ResourceVersion: "9"}, Conflict},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, objs := rolledStatefulSet(t)
			c := rolloutClient(t, objs...)
			tt.req.Kind, tt.req.Namespace, tt.req.Name = StatefulSet, "shop", "db"
			_, err := Undo(ctx, c.AppsV1(), tt.req)
			if ReasonOf(err) != tt.reason || !strings.Contains(err.Error(), "statefulset \"db\"") {
				t.Errorf("err = %v (%s), want %s naming the statefulset", err, ReasonOf(err), tt.reason)
			}
			if ps := patches(c, "statefulsets"); len(ps) != 0 {
				t.Errorf("patched %v", ps)
			}
		})
	}
	t.Run("client dry run", func(t *testing.T) {
		_, objs := rolledStatefulSet(t)
		c := rolloutClient(t, objs...)
		res, err := Undo(ctx, c.AppsV1(), UndoRequest{Kind: StatefulSet, Namespace: "shop", Name: "db", DryRun: DryRunClient})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Object.(*appsv1.StatefulSet).Spec.Template.Spec.Containers[0].Image; got != "db:2" || len(patches(c, "statefulsets")) != 0 {
			t.Errorf("dry run: image %s, patches %v", got, patches(c, "statefulsets"))
		}
	})
}

func TestUndoDaemonSetNoEarlier(t *testing.T) {
	ds := newDaemonSet("agent:1")
	c := rolloutClient(t, ds, controllerRevision(t, ds, "DaemonSet", 1, "agent:1"))
	_, err := Undo(context.Background(), c.AppsV1(), UndoRequest{Kind: DaemonSet, Namespace: "shop", Name: "agent"})
	if ReasonOf(err) != Conflict || !strings.Contains(err.Error(), "daemonset \"agent\" in namespace \"shop\" has no earlier revision") {
		t.Errorf("err = %v", err)
	}
}

func TestSetImagesWorkloads(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		kind     Kind
		name     string
		resource string
		obj      runtime.Object
	}{
		{StatefulSet, "db", "statefulsets", newStatefulSet("db:1")},
		{DaemonSet, "agent", "daemonsets", newDaemonSet("db:1")},
	} {
		t.Run(tt.resource, func(t *testing.T) {
			c := rolloutClient(t, tt.obj)
			res, err := SetImages(ctx, c.AppsV1(), ImageRequest{Kind: tt.kind, Namespace: "shop", Name: tt.name,
				Images: []ContainerImage{{"db", "db:2"}}})
			if err != nil {
				t.Fatal(err)
			}
			want := `[{"op":"test","path":"/spec/template/spec/containers/0/name","value":"db"},{"op":"test","path":"/spec/template/spec/containers/0/image","value":"db:1"},{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"db:2"}]`
			if ps := patches(c, tt.resource); !slices.Equal(ps, []string{want}) {
				t.Errorf("patches = %v, want %s", ps, want)
			}
			if res.Kind != tt.kind || templateOf(res.Object.(object)).Spec.Containers[0].Image != "db:2" {
				t.Errorf("result = %+v", res)
			}
			_, err = SetImages(ctx, c.AppsV1(), ImageRequest{Kind: tt.kind, Namespace: "shop", Name: tt.name,
				Images: []ContainerImage{{"nope", "x:1"}}})
			if ReasonOf(err) != BadRequest || !strings.Contains(err.Error(), tt.kind.Noun()+" \""+tt.name+"\" in namespace \"shop\" has no container \"nope\"") {
				t.Errorf("unknown container: %v", err)
			}
		})
	}
}

func TestRestartDaemonSet(t *testing.T) {
	c := rolloutClient(t, newDaemonSet("agent:1"))
	now := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	res, err := Restart(context.Background(), c.AppsV1(), RestartRequest{Kind: DaemonSet, Namespace: "shop", Name: "agent", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := c.Tracker().Get(daemonSetsGVR, "shop", "agent")
	if got := obj.(*appsv1.DaemonSet).Spec.Template.Annotations[RestartedAtAnnotation]; got != "2026-12-07T13:00:00Z" || !res.Changed {
		t.Errorf("restartedAt = %q, result %+v", got, res)
	}
}

// The refusals come before any request.
func TestWorkloadRefusals(t *testing.T) {
	ctx := context.Background()
	c := rolloutClient(t, newStatefulSet("db:1"), newDaemonSet("agent:1"))
	type refusal struct {
		name string
		err  error
		want string
	}
	var checks []refusal
	_, err := SetPaused(ctx, c.AppsV1(), PauseRequest{Kind: StatefulSet, Namespace: "shop", Name: "db", Paused: true})
	checks = append(checks, refusal{"pause sts", err, `statefulset "db" cannot be paused: only deployments`})
	_, err = SetPaused(ctx, c.AppsV1(), PauseRequest{Kind: DaemonSet, Namespace: "shop", Name: "agent"})
	checks = append(checks, refusal{"resume ds", err, `daemonset "agent" cannot be resumed: only deployments`})
	_, err = Scale(ctx, c.AppsV1(), ScaleRequest{Kind: DaemonSet, Namespace: "shop", Name: "agent", Replicas: 2})
	checks = append(checks, refusal{"scale ds", err, `daemonset "agent" cannot be scaled`})
	for _, ch := range checks {
		if ReasonOf(ch.err) != BadRequest || !strings.Contains(ch.err.Error(), ch.want) {
			t.Errorf("%s: %v, want BadRequest with %q", ch.name, ch.err, ch.want)
		}
	}
	if len(c.Actions()) != 0 {
		t.Errorf("actions = %v, want none", verbs(c))
	}
}

// Scale of a StatefulSet goes through statefulsets/scale, with the
// preconditions of a Deployment's.
func TestScaleStatefulSet(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset()
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", ResourceVersion: "10"},
		Spec: autoscalingv1.ScaleSpec{Replicas: 2}}
	var sent *autoscalingv1.Scale
	c.PrependReactor("get", "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return a.GetSubresource() == "scale", scale.DeepCopy(), nil
	})
	c.PrependReactor("update", "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sent = a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		return a.GetSubresource() == "scale", sent, nil
	})
	_, err := Scale(ctx, c.AppsV1(), ScaleRequest{Kind: StatefulSet, Namespace: "shop", Name: "db", Replicas: 3, CurrentReplicas: int32p(5)})
	if ReasonOf(err) != Conflict || !strings.Contains(err.Error(), `statefulset "db" in namespace "shop" has 2 replicas, expected 5`) || sent != nil {
		t.Errorf("precondition: %v, sent %v", err, sent)
	}
	res, err := Scale(ctx, c.AppsV1(), ScaleRequest{Kind: StatefulSet, Namespace: "shop", Name: "db", Replicas: 3, CurrentReplicas: int32p(2)})
	if err != nil {
		t.Fatal(err)
	}
	if sent == nil || sent.Spec.Replicas != 3 || sent.ResourceVersion != "10" || res.Kind != StatefulSet {
		t.Errorf("sent %+v, result %+v", sent, res)
	}
	if got := verbs(c); !slices.Equal(got, []string{"get statefulsets/scale", "get statefulsets/scale", "update statefulsets/scale"}) {
		t.Errorf("actions = %v", got)
	}
}
