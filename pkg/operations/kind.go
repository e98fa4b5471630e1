package operations

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
)

// Kind is the kind of workload a change acts on. The zero value is a
// Deployment, so that every request made before other kinds existed means
// what it did.
type Kind string

const (
	Deployment  Kind = ""
	StatefulSet Kind = "StatefulSet"
	DaemonSet   Kind = "DaemonSet"
)

// WorkloadsGetter is what a change of any kind needs: the three workload
// clients. appsv1client.AppsV1Interface is one.
type WorkloadsGetter interface {
	appsv1client.DeploymentsGetter
	appsv1client.StatefulSetsGetter
	appsv1client.DaemonSetsGetter
}

// kindNames are the TYPE forms of kubectl's TYPE/NAME for each kind.
var kindNames = map[string]Kind{
	"deployment": Deployment, "deployments": Deployment, "deploy": Deployment,
	"deployment.apps": Deployment, "deployments.apps": Deployment,
	"statefulset": StatefulSet, "statefulsets": StatefulSet, "sts": StatefulSet,
	"statefulset.apps": StatefulSet, "statefulsets.apps": StatefulSet,
	"daemonset": DaemonSet, "daemonsets": DaemonSet, "ds": DaemonSet,
	"daemonset.apps": DaemonSet, "daemonsets.apps": DaemonSet,
}

// ParseWorkload reads a workload named as kubectl names it: NAME (a
// Deployment), or TYPE/NAME with TYPE one of deploy, deployment(s),
// sts, statefulset(s), ds, daemonset(s) (with or without ".apps"). It
// returns a BadRequest naming the types it knows for any other TYPE.
func ParseWorkload(arg string) (Kind, string, error) {
	typ, name, ok := strings.Cut(arg, "/")
	if !ok {
		return Deployment, arg, nil
	}
	if k, known := kindNames[strings.ToLower(typ)]; known {
		return k, name, nil
	}
	return Deployment, arg, &Error{Reason: BadRequest, Problems: []Problem{{Field: "name",
		Message: fmt.Sprintf("unknown workload type %q in %q: use deploy/NAME, sts/NAME or ds/NAME (a bare NAME is a deployment)", typ, arg)}}}
}

// String is the kind's name, "Deployment" for the zero value.
func (k Kind) String() string {
	if k == Deployment {
		return "Deployment"
	}
	return string(k)
}

// Noun is the kind in lower case, as messages name it: "statefulset".
func (k Kind) Noun() string { return strings.ToLower(k.String()) }

// Resource is the kind's API resource: "statefulsets".
func (k Kind) Resource() string { return k.Noun() + "s" }

// Short is kubectl's short TYPE: "deploy", "sts", "ds".
func (k Kind) Short() string {
	switch k {
	case StatefulSet:
		return "sts"
	case DaemonSet:
		return "ds"
	}
	return "deploy"
}

// Ref is the workload as a command line names it: NAME for a Deployment
// (as every hint named it before other kinds existed), sts/NAME otherwise.
func (k Kind) Ref(name string) string {
	if k == Deployment {
		return name
	}
	return k.Short() + "/" + name
}

// valid reports whether k is one of the kinds.
func (k Kind) valid() bool { return k == Deployment || k == StatefulSet || k == DaemonSet }

// Empty returns a new empty object of the kind, with only its name and
// namespace, for printing a result by name.
func (k Kind) Empty(namespace, name string) object {
	meta := metav1.ObjectMeta{Name: name, Namespace: namespace}
	switch k {
	case StatefulSet:
		return &appsv1.StatefulSet{ObjectMeta: meta}
	case DaemonSet:
		return &appsv1.DaemonSet{ObjectMeta: meta}
	}
	return &appsv1.Deployment{ObjectMeta: meta}
}

// workloads reads and patches workloads of one kind in one namespace.
type workloads struct {
	kind      Kind
	namespace string
	client    WorkloadsGetter
}

func (w workloads) get(ctx context.Context, name string) (object, error) {
	switch w.kind {
	case StatefulSet:
		return w.client.StatefulSets(w.namespace).Get(ctx, name, metav1.GetOptions{})
	case DaemonSet:
		return w.client.DaemonSets(w.namespace).Get(ctx, name, metav1.GetOptions{})
	}
	return w.client.Deployments(w.namespace).Get(ctx, name, metav1.GetOptions{})
}

func (w workloads) patch(ctx context.Context, name string, pt types.PatchType, data []byte, dryRun []string) (object, error) {
	opts := metav1.PatchOptions{DryRun: dryRun}
	switch w.kind {
	case StatefulSet:
		return w.client.StatefulSets(w.namespace).Patch(ctx, name, pt, data, opts)
	case DaemonSet:
		return w.client.DaemonSets(w.namespace).Patch(ctx, name, pt, data, opts)
	}
	return w.client.Deployments(w.namespace).Patch(ctx, name, pt, data, opts)
}

// getScale and updateScale use the scale subresource, which DaemonSets do
// not have (Scale refuses them before any request).
func (w workloads) getScale(ctx context.Context, name string) (*autoscalingv1.Scale, error) {
	if w.kind == StatefulSet {
		return w.client.StatefulSets(w.namespace).GetScale(ctx, name, metav1.GetOptions{})
	}
	return w.client.Deployments(w.namespace).GetScale(ctx, name, metav1.GetOptions{})
}

func (w workloads) updateScale(ctx context.Context, name string, s *autoscalingv1.Scale, dryRun []string) (*autoscalingv1.Scale, error) {
	opts := metav1.UpdateOptions{DryRun: dryRun}
	if w.kind == StatefulSet {
		return w.client.StatefulSets(w.namespace).UpdateScale(ctx, name, s, opts)
	}
	return w.client.Deployments(w.namespace).UpdateScale(ctx, name, s, opts)
}

// PodTemplate reads the pod template of workload kind/name in namespace.
func PodTemplate(ctx context.Context, client WorkloadsGetter, kind Kind, namespace, name string) (*corev1.PodTemplateSpec, error) {
	o, err := workloads{kind: kind, namespace: namespace, client: client}.get(ctx, name)
	if err != nil {
		return nil, err
	}
	return templateOf(o), nil
}

// templateOf is the pod template of a workload: the same field, at the same
// JSON path (/spec/template), in every kind.
func templateOf(o object) *corev1.PodTemplateSpec {
	switch w := o.(type) {
	case *appsv1.Deployment:
		return &w.Spec.Template
	case *appsv1.StatefulSet:
		return &w.Spec.Template
	case *appsv1.DaemonSet:
		return &w.Spec.Template
	}
	return nil
}

// selectorOf is a workload's label selector.
func selectorOf(o object) *metav1.LabelSelector {
	switch w := o.(type) {
	case *appsv1.Deployment:
		return w.Spec.Selector
	case *appsv1.StatefulSet:
		return w.Spec.Selector
	case *appsv1.DaemonSet:
		return w.Spec.Selector
	}
	return nil
}

// kindOf is the Kind of a workload object.
func kindOf(o object) Kind {
	switch o.(type) {
	case *appsv1.StatefulSet:
		return StatefulSet
	case *appsv1.DaemonSet:
		return DaemonSet
	}
	return Deployment
}

// decodeLike decodes doc into a new object of o's type, for a client dry
// run: a fresh object, so that a field the patch removed stays removed.
func decodeLike(o object, doc []byte) (object, error) {
	out := kindOf(o).Empty("", "")
	if err := json.Unmarshal(doc, out); err != nil {
		return nil, err
	}
	return out, nil
}
