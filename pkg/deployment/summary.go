// Package deployment turns a Kubernetes Deployment into the summary users
// read (status, replica counts, images) and decides when two summaries differ
// in anything a user would notice. Every output of deploywatch (table rows,
// NDJSON lines, Server-Sent Events) is built from the Event type defined here.
package deployment

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// Replicas are the pod counts of a Deployment as its status reports them,
// with the desired count from its spec.
type Replicas struct {
	Desired     int32 `json:"desired"`
	Current     int32 `json:"current"`
	Updated     int32 `json:"updated"`
	Ready       int32 `json:"ready"`
	Available   int32 `json:"available"`
	Unavailable int32 `json:"unavailable"`
}

// Container is one container of the pod template and its image.
type Container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// Summary is what deploywatch shows of one Deployment.
type Summary struct {
	// Context is the kubeconfig context the Deployment is in, set only when
	// a view spans several contexts (absent otherwise).
	Context string `json:"context,omitempty"`
	// Kind is the workload's kind: Deployment, StatefulSet or DaemonSet.
	Kind               string      `json:"kind,omitempty"`
	Namespace          string      `json:"namespace"`
	Name               string      `json:"name"`
	Status             Status      `json:"status"`
	Message            string      `json:"message"`
	Replicas           Replicas    `json:"replicas"`
	Containers         []Container `json:"containers"`
	Generation         int64       `json:"generation"`
	ObservedGeneration int64       `json:"observedGeneration"`
	ResourceVersion    string      `json:"resourceVersion"`
	// Problems are why the rollout does not progress, most widespread
	// first (see package diagnosis); absent when there are none.
	Problems []diagnosis.Problem `json:"problems,omitempty"`
	// Serving is what each Service that selects the Deployment's pods
	// serves now, by Service name; absent when no Service selects them, or
	// when Services are not read (see ServingUnknown).
	Serving []Serving `json:"serving,omitempty"`
	// ServingUnknown says why serving cannot be known at all (the
	// identity may not read Services, EndpointSlices or Pods); absent
	// when it is read, or not asked for.
	ServingUnknown string `json:"servingUnknown,omitempty"`
	// Gaps are the serving gaps open now, one per Service; absent when
	// none. A gap is not a status: the rollout may still finish.
	Gaps []Gap `json:"gaps,omitempty"`
	// LastGap is the latest serving gap that ended; absent before one did.
	LastGap *Gap `json:"lastGap,omitempty"`
	// Warnings are the rollout-safety rules that fire on the Deployment
	// with the Services and PodDisruptionBudgets that select its pods (see
	// package safety); absent when none, or when Services are not read.
	Warnings []Warning `json:"warnings,omitempty"`
	// LastRollout is what the latest rollout deploywatch saw end cost
	// (see RolloutCost); absent before one ended.
	LastRollout *RolloutCost `json:"lastRollout,omitempty"`
	// Since is when the Deployment entered its current state, as the
	// cluster recorded it (see sinceOf); absent when nothing is recorded.
	// Not part of Changed: it moves with what is shown, never alone.
	Since time.Time `json:"since,omitzero"`
	// UID tells a Deployment from a new one created under the same name.
	UID types.UID `json:"-"`
	// Revision is the deployment controller's revision number (its
	// deployment.kubernetes.io/revision annotation): 0 before its first
	// ReplicaSet, 2 or more once an earlier revision exists to undo to.
	Revision int64 `json:"-"`
	// OrderedReady: a StatefulSet whose podManagementPolicy is
	// OrderedReady, whose rollback does not replace a broken pod until it
	// is deleted (kubernetes/kubernetes#67250).
	OrderedReady bool `json:"-"`
}

// EventType says what happened to a Deployment.
type EventType string

const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// Event is one change worth showing: the NDJSON line, the table row's source
// and the SSE payload. Its JSON form is a stable interface (see docs/watch.md).
type Event struct {
	Type EventType `json:"type"`
	Time time.Time `json:"time"`
	Summary
	// Changed lists the summary fields that differ from the previous event
	// for the same Deployment; empty for ADDED and DELETED.
	Changed []string `json:"changed"`
}

// Key is the namespace/name of the Deployment, as client-go's cache keys it,
// after its context when it has one (a view over several contexts). Other
// kinds' names carry their kind ("shop/statefulset/db"), so a StatefulSet
// and a Deployment of one name are two workloads.
func (s *Summary) Key() string {
	key := s.Name
	if k := s.kindOf(); k != KindDeployment {
		key = strings.ToLower(k) + "/" + s.Name
	}
	if s.Namespace != "" {
		key = s.Namespace + "/" + key
	}
	if s.Context != "" {
		key = s.Context + "/" + key
	}
	return key
}

// Compare orders Deployments as every view lists them: by context, then
// namespace, then name (not by Key, in which "a-b/x" sorts before "a/x"),
// then kind (in Kinds' order).
func Compare(a, b *Summary) int {
	if c := strings.Compare(a.Context, b.Context); c != 0 {
		return c
	}
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return cmp.Compare(slices.Index(Kinds, a.kindOf()), slices.Index(Kinds, b.kindOf()))
}

// Where names the Deployment for messages: "shop/api", or "shop/api in
// context prod" when it has a context.
func (s *Summary) Where() string {
	where := s.Name
	if s.Namespace != "" {
		where = s.Namespace + "/" + s.Name
	}
	if s.Context != "" {
		where += fmt.Sprintf(" in context %q", s.Context)
	}
	return where
}

// Summarize builds the summary of d. diag is the diagnosis of its new
// ReplicaSet, or nil when ReplicaSets and Pods are not read.
func Summarize(d *appsv1.Deployment, diag *Diagnosis) Summary {
	s := Summary{
		Kind:               KindDeployment,
		Namespace:          d.Namespace,
		Name:               d.Name,
		Replicas:           replicasOf(d),
		Containers:         containersOf(d),
		Generation:         d.Generation,
		ObservedGeneration: d.Status.ObservedGeneration,
		ResourceVersion:    d.ResourceVersion,
		UID:                d.UID,
		Revision:           revisionOf(d),
	}
	s.Status, s.Message = Classify(d, s.Replicas, diag)
	if diag != nil && s.Status != Running && s.Status != ScaledToZero {
		s.Problems = diag.Problems
	}
	s.Since = sinceOf(d, s.Status, s.Problems, diag)
	return s
}

func replicasOf(d *appsv1.Deployment) Replicas {
	desired := int32(1) // the API server's default when spec.replicas is unset
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	return Replicas{
		Desired:     desired,
		Current:     d.Status.Replicas,
		Updated:     d.Status.UpdatedReplicas,
		Ready:       d.Status.ReadyReplicas,
		Available:   d.Status.AvailableReplicas,
		Unavailable: d.Status.UnavailableReplicas,
	}
}

func containersOf(d *appsv1.Deployment) []Container {
	cs := d.Spec.Template.Spec.Containers
	out := make([]Container, len(cs))
	for i, c := range cs {
		out[i] = Container{Name: c.Name, Image: c.Image}
	}
	return out
}

// Changed lists the user-visible fields in which next differs from prev, in a
// fixed order. An empty result means next shows nothing new.
func Changed(prev, next *Summary) []string {
	var changed []string
	if prev.Status != next.Status {
		changed = append(changed, "status")
	}
	if prev.Message != next.Message {
		changed = append(changed, "message")
	}
	p, n := prev.Replicas, next.Replicas
	for _, f := range []struct {
		name string
		a, b int32
	}{
		{"replicas.desired", p.Desired, n.Desired},
		{"replicas.current", p.Current, n.Current},
		{"replicas.updated", p.Updated, n.Updated},
		{"replicas.ready", p.Ready, n.Ready},
		{"replicas.available", p.Available, n.Available},
		{"replicas.unavailable", p.Unavailable, n.Unavailable},
	} {
		if f.a != f.b {
			changed = append(changed, f.name)
		}
	}
	if !slices.Equal(prev.Containers, next.Containers) {
		changed = append(changed, "containers")
	}
	if !diagnosis.SameAll(prev.Problems, next.Problems) {
		changed = append(changed, "problems")
	}
	if changedServing(prev.Serving, next.Serving) {
		changed = append(changed, "serving")
	}
	if prev.ServingUnknown != next.ServingUnknown {
		changed = append(changed, "servingUnknown")
	}
	if changedGaps(prev.Gaps, next.Gaps) {
		changed = append(changed, "gaps")
	}
	if !sameGap(prev.LastGap, next.LastGap) {
		changed = append(changed, "lastGap")
	}
	if changedWarnings(prev.Warnings, next.Warnings) {
		changed = append(changed, "warnings")
	}
	if !sameRollout(prev.LastRollout, next.LastRollout) {
		changed = append(changed, "lastRollout")
	}
	return changed
}

// Steady keeps prev's wording in next where both describe the same
// problems: a restart count ticking up inside one crash loop, or the
// kubelet alternating ErrImagePull and ImagePullBackOff, is not news. New
// pods or a new desired count are: the message counts them.
func Steady(prev, next *Summary) {
	if prev.Status != next.Status || len(next.Problems) == 0 || !diagnosis.SameAll(prev.Problems, next.Problems) ||
		prev.Replicas.Updated != next.Replicas.Updated || prev.Replicas.Desired != next.Replicas.Desired {
		return
	}
	next.Message = prev.Message
	for i := range next.Problems {
		p, q := &next.Problems[i], prev.Problems[i]
		p.Reason, p.Message, p.MessageFull, p.Cause, p.Pod = q.Reason, q.Message, q.MessageFull, q.Cause, q.Pod
	}
}

// Complete reports whether nothing is left to do: the Deployment is
// Running or ScaledToZero, or paused with every replica updated and
// available. It is what --until-complete and --wait wait for.
func (s *Summary) Complete() bool {
	switch s.Status {
	case Running, ScaledToZero:
		return true
	case Paused:
		return s.observed() && pendingMessage(s.Replicas) == ""
	}
	return false
}

// Stuck reports whether the rollout cannot finish by itself: it exceeded
// its progress deadline, or it is paused with old replicas left to
// replace, or paused before it started (see Unstarted). A paused
// Deployment that has a ReplicaSet still scales, and its pods still
// become available, so it is not Stuck for that. Failing is not Stuck at
// once: waiters give it a grace period, see FailingSince.
func (s *Summary) Stuck() bool {
	switch s.Status {
	case Failed:
		return true
	case Paused:
		return s.observed() && (s.Replicas.Current > s.Replicas.Updated || s.Unstarted())
	}
	return false
}

// Unstarted reports whether s was paused before its first rollout: the
// deployment controller creates no ReplicaSet for a paused Deployment, so
// it has no pods, and scaling it changes nothing, until it is resumed.
func (s *Summary) Unstarted() bool {
	return s.Status == Paused && s.observed() && unstarted(s.Revision, s.Replicas)
}

// unstarted: no revision yet (no ReplicaSet was ever made), no pods, and
// some wanted.
func unstarted(revision int64, r Replicas) bool {
	return revision == 0 && r.Current == 0 && r.Desired > 0
}

// FailingSince is when s started Failing: the earliest start the cluster
// recorded for its problems, or firstSeen (when the observer first saw it
// Failing) if that is earlier or nothing was recorded.
func (s *Summary) FailingSince(firstSeen time.Time) time.Time {
	since := firstSeen
	for _, p := range s.Problems {
		if !p.Since.IsZero() && p.Since.Before(since) {
			since = p.Since
		}
	}
	return since
}

func (s *Summary) observed() bool { return s.ObservedGeneration >= s.Generation }
