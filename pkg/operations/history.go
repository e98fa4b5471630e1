package operations

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
)

// Annotations the deployment controller and kubectl keep on Deployments,
// ReplicaSets and pod templates.
const (
	// RevisionAnnotation numbers a Deployment's ReplicaSets in rollout order.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists the earlier revisions a ReplicaSet
	// served, when an undo brought its template back.
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// ChangeCauseAnnotation is the reason for a change, when one was recorded.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	// RestartedAtAnnotation on the pod template is what `kubectl rollout
	// restart` sets to make the controller replace every pod.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
)

// HistoryRequest asks for the revisions of a workload.
type HistoryRequest struct {
	// Kind is the workload's: Deployment (the zero value), StatefulSet or
	// DaemonSet.
	Kind      Kind
	Namespace string
	Name      string
	// Revision, when not 0, asks for that revision alone.
	Revision int64
}

// Validate reports every problem with the request, without a request to the
// API server.
func (r HistoryRequest) Validate() error {
	ps := validateTarget(r.Kind, r.Namespace, r.Name, DryRunNone)
	if r.Revision < 0 {
		ps = append(ps, Problem{"revision", fmt.Sprintf("revision must be a positive number, got %d", r.Revision)})
	}
	return badRequest(ps)
}

// Revision is one pod template a workload has rolled out: a ReplicaSet of a
// Deployment, or a ControllerRevision of a StatefulSet or a DaemonSet.
type Revision struct {
	Revision int64 `json:"revision"`
	// ReplicaSet holds a Deployment's revision.
	ReplicaSet string `json:"replicaSet,omitempty"`
	// ControllerRevision holds a StatefulSet's or a DaemonSet's.
	ControllerRevision string `json:"controllerRevision,omitempty"`
	// Containers and InitContainers are the template's images.
	Containers     []ContainerImage `json:"containers"`
	InitContainers []ContainerImage `json:"initContainers,omitempty"`
	// ChangeCause is the kubernetes.io/change-cause annotation, if any.
	ChangeCause string `json:"changeCause,omitempty"`
	// Created is when the ReplicaSet or ControllerRevision was created.
	Created time.Time `json:"created"`
	// Replicas and ReadyReplicas are the pods the ReplicaSet has now; a
	// ControllerRevision does not count its pods, so they are absent.
	Replicas      *int32 `json:"replicas,omitempty"`
	ReadyReplicas *int32 `json:"readyReplicas,omitempty"`
	// Current is true for the revision whose template is the Deployment's.
	Current bool `json:"current"`
	// Earlier lists the revisions this template had before an undo
	// brought it back.
	Earlier []int64 `json:"earlier,omitempty"`

	template    *corev1.PodTemplateSpec
	annotations map[string]string
}

// History is a workload's revisions, newest first.
type History struct {
	// Kind is the workload's; empty for a Deployment.
	Kind      Kind   `json:"kind,omitempty"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ResourceVersion is the workload's, for a precondition on an undo.
	ResourceVersion string     `json:"resourceVersion"`
	Paused          bool       `json:"paused"`
	Revisions       []Revision `json:"revisions"`
}

var historyAccess = access{op: "history", verbs: "get", canIVerb: "get"}

// GetHistory reads the workload and what holds its revisions: the
// ReplicaSets a Deployment controls, or the ControllerRevisions of a
// StatefulSet or a DaemonSet (by owner reference, not by labels alone:
// another workload's can match the same selector), and returns their
// revisions, newest first. A ReplicaSet without a revision number (not made
// by the deployment controller) is left out, as kubectl does.
func GetHistory(ctx context.Context, client RolloutClient, req HistoryRequest) (History, error) {
	if err := req.Validate(); err != nil {
		return History{}, err
	}
	w := workloads{kind: req.Kind, namespace: req.Namespace, client: client}
	o, err := w.get(ctx, req.Name)
	if err != nil {
		return History{}, apiError(err, req.Namespace, req.Name, historyAccess.of(req.Kind))
	}
	h, err := history(ctx, client, o, "history")
	if err != nil {
		return History{}, err
	}
	if req.Revision != 0 {
		r, err := h.find(req.Revision, "revision")
		if err != nil {
			return History{}, err
		}
		h.Revisions = []Revision{r}
	}
	return h, nil
}

// history lists o's revisions; op names the operation for a Forbidden hint.
func history(ctx context.Context, client RolloutClient, o object, op string) (History, error) {
	if d, ok := o.(*appsv1.Deployment); ok {
		return replicaSetHistory(ctx, client, d, op)
	}
	return controllerRevisionHistory(ctx, client, o, op)
}

// replicaSetHistory lists a Deployment's revisions from its ReplicaSets.
func replicaSetHistory(ctx context.Context, client RolloutClient, d *appsv1.Deployment, op string) (History, error) {
	h := History{Namespace: d.Namespace, Name: d.Name, ResourceVersion: d.ResourceVersion, Paused: d.Spec.Paused, Revisions: []Revision{}}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return h, fmt.Errorf("deployment %q in namespace %q has an invalid selector: %w", d.Name, d.Namespace, err)
	}
	list, err := client.ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if apierrors.IsForbidden(err) {
		return h, &Error{Reason: Forbidden, Err: err, Message: explain.Message(err),
			Hint: fmt.Sprintf("%s needs list on replicasets in namespace %q (they hold the revisions); check with 'kubectl auth can-i list replicasets -n %s'", op, d.Namespace, d.Namespace)}
	}
	if err != nil {
		return h, fmt.Errorf("listing the replicasets of deployment %q in namespace %q: %w", d.Name, d.Namespace, err)
	}
	current := -1 // the oldest ReplicaSet with the Deployment's template, as the controller picks it
	for i := range list.Items {
		rs := &list.Items[i]
		if !metav1.IsControlledBy(rs, d) {
			continue
		}
		n, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
		if err != nil {
			continue
		}
		r := Revision{
			Revision: n, ReplicaSet: rs.Name,
			Containers: imagesOf(rs.Spec.Template.Spec.Containers), InitContainers: imagesOf(rs.Spec.Template.Spec.InitContainers),
			ChangeCause: rs.Annotations[ChangeCauseAnnotation], Created: rs.CreationTimestamp.Time.UTC(),
			Replicas: &rs.Status.Replicas, ReadyReplicas: &rs.Status.ReadyReplicas,
			template: &rs.Spec.Template, annotations: rs.Annotations,
		}
		for _, s := range strings.Split(rs.Annotations[RevisionHistoryAnnotation], ",") {
			if e, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				r.Earlier = append(r.Earlier, e)
			}
		}
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			if current < 0 || r.Created.Before(h.Revisions[current].Created) {
				current = len(h.Revisions)
			}
		}
		h.Revisions = append(h.Revisions, r)
	}
	if current >= 0 {
		h.Revisions[current].Current = true
	}
	slices.SortFunc(h.Revisions, func(a, b Revision) int { return cmp.Compare(b.Revision, a.Revision) })
	return h, nil
}

// find returns revision n, or a NotFound error listing the revisions there
// are; field names the request field that asked for it.
func (h History) find(n int64, field string) (Revision, error) {
	for _, r := range h.Revisions {
		if r.Revision == n {
			return r, nil
		}
	}
	msg := fmt.Sprintf("%s %q in namespace %q has no revision %d", h.Kind.Noun(), h.Name, h.Namespace, n)
	if len(h.Revisions) > 0 {
		msg += "; its revisions: " + h.numbers()
	}
	return Revision{}, &Error{Reason: NotFound, Message: msg,
		Problems: []Problem{{Field: field, Message: msg}},
		Hint:     fmt.Sprintf("see them with 'kubectl deploywatch history %s -n %s'", h.Kind.Ref(h.Name), h.Namespace)}
}

func (h History) numbers() string {
	parts := make([]string, len(h.Revisions))
	for i, r := range h.Revisions {
		parts[i] = strconv.FormatInt(r.Revision, 10)
	}
	return strings.Join(parts, ", ")
}

// current returns the current revision, if one is.
func (h History) current() (Revision, bool) {
	for _, r := range h.Revisions {
		if r.Current {
			return r, true
		}
	}
	return Revision{}, false
}

func imagesOf(cs []corev1.Container) []ContainerImage {
	if len(cs) == 0 {
		return nil
	}
	out := make([]ContainerImage, len(cs))
	for i, c := range cs {
		out[i] = ContainerImage{Container: c.Name, Image: c.Image}
	}
	return out
}

// equalIgnoreHash compares pod templates as the deployment controller does:
// the ReplicaSet's copy carries a pod-template-hash label the Deployment's
// does not.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// controllerRevisionHistory lists a StatefulSet's or a DaemonSet's
// revisions from the ControllerRevisions it controls. Each holds the pod
// template as a patch ({"spec":{"template":{...}}}); the current one is the
// one whose template is the workload's. The controller keeps one
// ControllerRevision per distinct template: going back to an earlier one
// gives that ControllerRevision the next revision number.
func controllerRevisionHistory(ctx context.Context, client RolloutClient, o object, op string) (History, error) {
	k := kindOf(o)
	h := History{Kind: k, Namespace: o.GetNamespace(), Name: o.GetName(), ResourceVersion: o.GetResourceVersion(), Revisions: []Revision{}}
	selector, err := metav1.LabelSelectorAsSelector(selectorOf(o))
	if err != nil {
		return h, fmt.Errorf("%s %q in namespace %q has an invalid selector: %w", k.Noun(), h.Name, h.Namespace, err)
	}
	list, err := client.ControllerRevisions(h.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if apierrors.IsForbidden(err) {
		return h, &Error{Reason: Forbidden, Err: err, Message: explain.Message(err),
			Hint: fmt.Sprintf("%s needs list on controllerrevisions in namespace %q (they hold the revisions); check with 'kubectl auth can-i list controllerrevisions -n %s'", op, h.Namespace, h.Namespace)}
	}
	if err != nil {
		return h, fmt.Errorf("listing the controllerrevisions of %s %q in namespace %q: %w", k.Noun(), h.Name, h.Namespace, err)
	}
	current := -1 // the newest revision with the workload's template
	for i := range list.Items {
		cr := &list.Items[i]
		if !metav1.IsControlledBy(cr, o) {
			continue
		}
		var data struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(cr.Data.Raw, &data); err != nil {
			return h, fmt.Errorf("reading controllerrevision %q of %s %q in namespace %q: %w", cr.Name, k.Noun(), h.Name, h.Namespace, err)
		}
		t := &data.Spec.Template
		r := Revision{
			Revision: cr.Revision, ControllerRevision: cr.Name,
			Containers: imagesOf(t.Spec.Containers), InitContainers: imagesOf(t.Spec.InitContainers),
			ChangeCause: cr.Annotations[ChangeCauseAnnotation], Created: cr.CreationTimestamp.Time.UTC(),
			template: t,
		}
		if apiequality.Semantic.DeepEqual(t, templateOf(o)) {
			if current < 0 || r.Revision > h.Revisions[current].Revision {
				current = len(h.Revisions)
			}
		}
		h.Revisions = append(h.Revisions, r)
	}
	if current >= 0 {
		h.Revisions[current].Current = true
	}
	slices.SortFunc(h.Revisions, func(a, b Revision) int { return cmp.Compare(b.Revision, a.Revision) })
	return h, nil
}
