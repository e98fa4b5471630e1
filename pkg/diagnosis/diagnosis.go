// Package diagnosis says why a rollout does not progress: it reads the new
// ReplicaSet of a Deployment, that ReplicaSet's Pods and the Warning Events
// about them, and names the problems a user can act on (an image that cannot
// be pulled, a crash loop, a missing ConfigMap key, a pod no node takes, a
// quota that refuses pods). It holds no state and starts no watch: the
// tracker feeds it from its informers.
package diagnosis

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Problem is one reason a rollout does not progress, shared by Pods Pods of
// the new ReplicaSet (0 for a ReplicaSet-level problem such as a quota).
type Problem struct {
	// Reason is what the kubelet, scheduler or controller reports:
	// ImagePullBackOff, CrashLoopBackOff, CreateContainerConfigError,
	// Unschedulable, FailedCreate, Unhealthy, Evicted, ...
	Reason string `json:"reason"`
	// Message is the reporter's own words on one line, shortened to at
	// most maxMessage characters between words (its start and its end,
	// where runtimes put the cause, around " … "); MessageFull is the
	// whole text when it was shortened, absent otherwise.
	Message     string `json:"message"`
	MessageFull string `json:"messageFull,omitempty"`
	// Cause is what went wrong in the fewest words, without what a row
	// shows beside it (the image, the pod): the registry's answer to a
	// pull ("not found"), a crash's last exit ("OOMKilled, exit code
	// 137"), the scheduler's reasons. Describe leads with it.
	Cause string `json:"cause,omitempty"`
	// Pod is one pod that has the problem (the first by name); Pods how many
	// pods of the new ReplicaSet have it.
	Pod  string `json:"pod,omitempty"`
	Pods int    `json:"pods"`
	// Container is the container, when the problem is one container's; Init
	// says it is an init container.
	Container string `json:"container,omitempty"`
	Init      bool   `json:"init,omitempty"`
	// Node is where the example pod runs, for problems that depend on it.
	Node string `json:"node,omitempty"`
	// ExitCode and LastState (Error, OOMKilled, ...) are a crash loop's last
	// termination; Restarts its restart count when last diagnosed.
	ExitCode  *int32 `json:"exitCode,omitempty"`
	LastState string `json:"lastState,omitempty"`
	Restarts  int32  `json:"restarts,omitempty"`
	// Since is when the problem started, as the cluster recorded it.
	Since time.Time `json:"since,omitzero"`
	// Blocking says the pods are not new but of an older revision, and the
	// StatefulSet controller (podManagementPolicy OrderedReady) waits for
	// them to be Running and Ready before it goes on, rolling back
	// included: deleting the example pod unblocks the rollout.
	Blocking bool `json:"blocking,omitempty"`

	// nameContainer: the pod has other containers, so Describe names this
	// one (an init container always).
	nameContainer bool
	// failed: the pods ended (phase Failed, evicted say), so their
	// ReplicaSet no longer counts them among its pods; Describe does.
	failed bool
}

// Same reports whether p and q are the same problem for a reader: the same
// kind of failure of the same container, on as many pods. Restart counts,
// timestamps, the example pod and the kubelet's alternating
// ErrImagePull/ImagePullBackOff within one failure are not a change.
func (p Problem) Same(q Problem) bool {
	return kind(p.Reason) == kind(q.Reason) && p.Container == q.Container && p.Init == q.Init && p.Pods == q.Pods && p.Blocking == q.Blocking
}

// SameAll is Same over two lists in order.
func SameAll(a, b []Problem) bool {
	return slices.EqualFunc(a, b, Problem.Same)
}

// kind folds reasons that a kubelet alternates between while it retries
// one failure: a pull and its back-off, a container that cannot start (or
// exits) and its back-off.
func kind(reason string) string {
	switch reason {
	case "ErrImagePull", "ImagePullBackOff":
		return "ImagePull"
	case "RunContainerError", "CrashLoopBackOff":
		return "CrashLoop"
	}
	return reason
}

// Input is what the diagnosis reads: the Deployment's new ReplicaSet (nil
// when it has none yet), that ReplicaSet's Pods, and Warning Events about
// those Pods and the ReplicaSet. For a StatefulSet or a DaemonSet, Owner
// stands for the ReplicaSet and Pods are its new pods (of its update
// revision).
type Input struct {
	ReplicaSet *appsv1.ReplicaSet
	Owner      *Owner
	Pods       []*corev1.Pod
	Events     []*corev1.Event
}

// Owner is a controller that makes pods itself (a StatefulSet, a
// DaemonSet): its FailedCreate events say it could not (a quota, an
// admission webhook), when Missing says it has fewer pods than it wants.
type Owner struct {
	Kind, Name string
	Missing    bool
}

// Diagnose lists the problems of a rollout, most widespread first.
func Diagnose(in Input) []Problem {
	if in.ReplicaSet == nil && in.Owner == nil {
		return nil
	}
	ownerKind, ownerName := "ReplicaSet", ""
	if in.ReplicaSet != nil {
		ownerName = in.ReplicaSet.Name
	} else {
		ownerKind, ownerName = in.Owner.Kind, in.Owner.Name
	}
	podEvents := map[string][]*corev1.Event{}
	var rsEvents []*corev1.Event
	for _, e := range in.Events {
		switch e.InvolvedObject.Kind {
		case "Pod":
			podEvents[e.InvolvedObject.Name] = append(podEvents[e.InvolvedObject.Name], e)
		case ownerKind:
			if e.InvolvedObject.Name == ownerName {
				rsEvents = append(rsEvents, e)
			}
		}
	}

	var out []Problem
	switch {
	case in.ReplicaSet != nil:
		if p, ok := replicaSetProblem(in.ReplicaSet, rsEvents); ok {
			out = append(out, p)
		}
	case in.Owner.Missing:
		// No condition to read: a FailedCreate event is the only record,
		// and an old one outlives its cause, so only while pods are missing.
		if e := latest(rsEvents, "FailedCreate"); e != nil {
			p := Problem{Reason: e.Reason, Since: firstSeen(e)}
			p.say(e.Message)
			out = append(out, p)
		}
	}
	pods := slices.Clone(in.Pods)
	slices.SortFunc(pods, func(a, b *corev1.Pod) int { return cmp.Compare(a.Name, b.Name) })
	type key struct {
		kind, container string
		init            bool
	}
	index := map[key]int{}
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue // going away: its replacement decides
		}
		p, ok := podProblem(pod, podEvents[pod.Name])
		if !ok {
			continue
		}
		k := key{kind(p.Reason), p.Container, p.Init}
		if i, seen := index[k]; seen {
			out[i].Pods++
			if !p.Since.IsZero() && (out[i].Since.IsZero() || p.Since.Before(out[i].Since)) {
				out[i].Since = p.Since
			}
			continue
		}
		p.Pods = 1
		index[k] = len(out)
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b Problem) int { return cmp.Compare(b.Pods, a.Pods) })
	return out
}

// replicaSetProblem: the controller could not create pods (quota,
// admission, PodSecurity), from the ReplicaFailure condition or, before the
// condition is written, a FailedCreate event.
func replicaSetProblem(rs *appsv1.ReplicaSet, events []*corev1.Event) (Problem, bool) {
	for _, c := range rs.Status.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
			p := Problem{Reason: c.Reason, Since: c.LastTransitionTime.Time}
			p.say(c.Message)
			return p, true
		}
	}
	if e := latest(events, "FailedCreate"); e != nil {
		p := Problem{Reason: e.Reason, Since: firstSeen(e)}
		p.say(e.Message)
		return p, true
	}
	return Problem{}, false
}

// badWaiting are the container waiting reasons that do not clear by
// waiting: the kubelet retries, but the same error comes back.
var badWaiting = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"ImageInspectError":          true,
	"RegistryUnavailable":        true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
	"PreStartHookError":          true,
	"PostStartHookError":         true,
	"CrashLoopBackOff":           true,
}

// podProblem is the first problem of one pod, in the order a pod meets
// them: scheduling, eviction or failure, init containers, containers,
// readiness.
func podProblem(pod *corev1.Pod, events []*corev1.Event) (Problem, bool) {
	since := readySince(pod)
	if pod.Status.Phase == corev1.PodFailed {
		p := Problem{Reason: cmp.Or(pod.Status.Reason, "Failed"), Pod: pod.Name, Node: pod.Spec.NodeName, Since: since, failed: true}
		p.say(pod.Status.Message)
		return p, true
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			msg := c.Message
			if e := latest(events, "FailedScheduling"); e != nil && msg == "" {
				msg = e.Message
			}
			p := Problem{Reason: corev1.PodReasonUnschedulable, Pod: pod.Name, Since: c.LastTransitionTime.Time}
			p.say(msg)
			return p, true
		}
	}
	if p, ok := nodeNotReady(pod, events); ok {
		return p, true
	}
	// Which container is not obvious when the pod has several.
	several := len(pod.Status.ContainerStatuses) > 1
	for _, cs := range pod.Status.InitContainerStatuses {
		if p, ok := containerProblem(cs, events, true); ok {
			p.Pod, p.Node, p.Since, p.nameContainer = pod.Name, pod.Spec.NodeName, since, true
			return p, true
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if p, ok := containerProblem(cs, events, false); ok {
			p.Pod, p.Node, p.Since, p.nameContainer = pod.Name, pod.Spec.NodeName, since, several
			return p, true
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running == nil || cs.Ready {
			continue
		}
		// Running but not ready: only a failing probe the kubelet reported
		// is a problem; otherwise the container may still be starting.
		if e := latest(events, "Unhealthy"); e != nil {
			p := Problem{Reason: "Unhealthy", Pod: pod.Name, Container: cs.Name, Node: pod.Spec.NodeName, Since: firstSeen(e), nameContainer: several}
			p.say(e.Message)
			return p, true
		}
	}
	return Problem{}, false
}

// nodeNotReady: the node lifecycle controller marked the pod not ready
// because its node stopped reporting (NotReady or unreachable), and said so
// in a NodeNotReady event; the containers' statuses, which only the node
// writes, are stale. The pod is not available until the node is back.
func nodeNotReady(pod *corev1.Pod, events []*corev1.Event) (Problem, bool) {
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodReady || c.Status == corev1.ConditionTrue {
			continue
		}
		e := latest(events, "NodeNotReady")
		if e == nil || lastSeen(e).Before(c.LastTransitionTime.Time) {
			return Problem{}, false // an event of an earlier outage
		}
		p := Problem{Reason: "NodeNotReady", Pod: pod.Name, Node: pod.Spec.NodeName, Since: c.LastTransitionTime.Time}
		p.say(e.Message)
		if pod.Spec.NodeName != "" {
			p.Cause = "node " + pod.Spec.NodeName + " is not ready or unreachable"
		}
		return p, true
	}
	return Problem{}, false
}

// containerProblem reads one container's state. A container that crashed
// and now runs, but is not ready, is still in its crash loop: the kubelet
// shows it Running between back-offs.
func containerProblem(cs corev1.ContainerStatus, events []*corev1.Event, init bool) (Problem, bool) {
	p := Problem{Container: cs.Name, Init: init, Restarts: cs.RestartCount}
	last := cs.LastTerminationState.Terminated
	if last != nil {
		code := last.ExitCode
		p.ExitCode, p.LastState = &code, last.Reason
	}
	var msg string
	switch {
	case cs.State.Waiting != nil && badWaiting[cs.State.Waiting.Reason]:
		p.Reason, msg = cs.State.Waiting.Reason, cs.State.Waiting.Message
	case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0 && (cs.RestartCount > 0 || init):
		last = cs.State.Terminated
		code := last.ExitCode
		p.Reason, p.ExitCode, p.LastState = "CrashLoopBackOff", &code, last.Reason
	case cs.State.Running != nil && !cs.Ready && cs.RestartCount > 0 && p.ExitCode != nil && *p.ExitCode != 0 && !init:
		p.Reason = "CrashLoopBackOff"
	default:
		return Problem{}, false
	}
	switch kind(p.Reason) {
	case "ImagePull":
		// The back-off message may say only that it backs off (kubelets
		// before 1.32, or one restarted since): the pull error it backs
		// off from is in the kubelet's Failed event.
		if pullError(msg) == "" {
			if e := latestPrefix(events, "Failed", "Failed to pull image"); e != nil {
				msg = e.Message
			}
		}
	case "CrashLoop":
		if p.ExitCode != nil {
			msg = fmt.Sprintf("container %s exited with code %d", cs.Name, *p.ExitCode)
			if p.LastState != "" {
				msg += " (" + p.LastState + ")"
			}
			p.Cause = exitCause(*p.ExitCode, p.LastState, last.Message)
		}
	}
	p.say(msg)
	return p, true
}

// readySince is when the pod last became not ready (or was created), the
// best record of since when a pod's problem holds.
func readySince(pod *corev1.Pod) time.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	return pod.CreationTimestamp.Time
}

func latest(events []*corev1.Event, reason string) *corev1.Event {
	return latestPrefix(events, reason, "")
}

// latestPrefix is the most recent event with this reason whose message
// starts with prefix.
func latestPrefix(events []*corev1.Event, reason, prefix string) *corev1.Event {
	var best *corev1.Event
	for _, e := range events {
		if e.Reason != reason || !strings.HasPrefix(e.Message, prefix) {
			continue
		}
		if best == nil || lastSeen(e).After(lastSeen(best)) {
			best = e
		}
	}
	return best
}

func lastSeen(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil:
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func firstSeen(e *corev1.Event) time.Time {
	switch {
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
