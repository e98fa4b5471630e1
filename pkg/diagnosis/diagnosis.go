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
	"unicode/utf8"

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
	// Message is the reporter's own words, trimmed to one line.
	Message string `json:"message"`
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
}

// Same reports whether p and q are the same problem for a reader: the same
// kind of failure of the same container, on as many pods. Restart counts,
// timestamps, the example pod and the kubelet's alternating
// ErrImagePull/ImagePullBackOff within one failure are not a change.
func (p Problem) Same(q Problem) bool {
	return kind(p.Reason) == kind(q.Reason) && p.Container == q.Container && p.Init == q.Init && p.Pods == q.Pods
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
// those Pods and the ReplicaSet.
type Input struct {
	ReplicaSet *appsv1.ReplicaSet
	Pods       []*corev1.Pod
	Events     []*corev1.Event
}

// maxMessage bounds a message so one long kubelet error cannot take a
// whole terminal line.
const maxMessage = 200

// Diagnose lists the problems of a rollout, most widespread first.
func Diagnose(in Input) []Problem {
	if in.ReplicaSet == nil {
		return nil
	}
	podEvents := map[string][]*corev1.Event{}
	var rsEvents []*corev1.Event
	for _, e := range in.Events {
		switch e.InvolvedObject.Kind {
		case "Pod":
			podEvents[e.InvolvedObject.Name] = append(podEvents[e.InvolvedObject.Name], e)
		case "ReplicaSet":
			if e.InvolvedObject.Name == in.ReplicaSet.Name {
				rsEvents = append(rsEvents, e)
			}
		}
	}

	var out []Problem
	if p, ok := replicaSetProblem(in.ReplicaSet, rsEvents); ok {
		out = append(out, p)
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
			return Problem{Reason: c.Reason, Message: trim(c.Message), Since: c.LastTransitionTime.Time}, true
		}
	}
	if e := latest(events, "FailedCreate"); e != nil {
		return Problem{Reason: e.Reason, Message: trim(e.Message), Since: firstSeen(e)}, true
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
		reason := cmp.Or(pod.Status.Reason, "Failed")
		return Problem{Reason: reason, Message: trim(pod.Status.Message), Pod: pod.Name, Node: pod.Spec.NodeName, Since: since}, true
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			msg := c.Message
			if e := latest(events, "FailedScheduling"); e != nil && msg == "" {
				msg = e.Message
			}
			return Problem{Reason: corev1.PodReasonUnschedulable, Message: trim(msg), Pod: pod.Name, Since: c.LastTransitionTime.Time}, true
		}
	}
	for _, cs := range pod.Status.InitContainerStatuses {
		if p, ok := containerProblem(cs, events, true); ok {
			p.Pod, p.Node, p.Since = pod.Name, pod.Spec.NodeName, since
			return p, true
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if p, ok := containerProblem(cs, events, false); ok {
			p.Pod, p.Node, p.Since = pod.Name, pod.Spec.NodeName, since
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
			return Problem{Reason: "Unhealthy", Message: trim(e.Message), Pod: pod.Name, Container: cs.Name, Node: pod.Spec.NodeName, Since: firstSeen(e)}, true
		}
	}
	return Problem{}, false
}

// containerProblem reads one container's state. A container that crashed
// and now runs, but is not ready, is still in its crash loop: the kubelet
// shows it Running between back-offs.
func containerProblem(cs corev1.ContainerStatus, events []*corev1.Event, init bool) (Problem, bool) {
	p := Problem{Container: cs.Name, Init: init, Restarts: cs.RestartCount}
	if t := cs.LastTerminationState.Terminated; t != nil {
		code := t.ExitCode
		p.ExitCode, p.LastState = &code, t.Reason
	}
	switch {
	case cs.State.Waiting != nil && badWaiting[cs.State.Waiting.Reason]:
		p.Reason, p.Message = cs.State.Waiting.Reason, cs.State.Waiting.Message
	case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0 && (cs.RestartCount > 0 || init):
		code := cs.State.Terminated.ExitCode
		p.Reason, p.ExitCode, p.LastState = "CrashLoopBackOff", &code, cs.State.Terminated.Reason
	case cs.State.Running != nil && !cs.Ready && cs.RestartCount > 0 && p.ExitCode != nil && *p.ExitCode != 0 && !init:
		p.Reason = "CrashLoopBackOff"
	default:
		return Problem{}, false
	}
	switch kind(p.Reason) {
	case "ImagePull":
		// The back-off message says only that it backs off; the pull error
		// it backs off from is in the kubelet's Failed event.
		if e := latestPrefix(events, "Failed", "Failed to pull image"); e != nil && !strings.Contains(p.Message, ":") {
			p.Message = e.Message
		}
	case "CrashLoop":
		if p.ExitCode != nil {
			p.Message = fmt.Sprintf("container %s exited with code %d", cs.Name, *p.ExitCode)
			if p.LastState != "" {
				p.Message += " (" + p.LastState + ")"
			}
		}
	}
	p.Message = trim(p.Message)
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

// trim makes a message one line of at most maxMessage characters. A long
// one keeps its start and its end, where runtimes put the cause
// ("...: not found"), and loses its middle.
func trim(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= maxMessage {
		return s
	}
	r := []rune(s)
	head := maxMessage * 3 / 5
	tail := maxMessage - head - 1
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// Describe is the one-line cause of a rollout's problems for a status
// message, e.g. `2 of 3 new pods ImagePullBackOff: ... (pod api-7d9f-x2k4)`.
// total is the number of pods the new ReplicaSet should have.
func Describe(problems []Problem, total int32) string {
	if len(problems) == 0 {
		return ""
	}
	p := problems[0]
	var b strings.Builder
	if p.Pods > 0 {
		noun := "pods"
		if total == 1 {
			noun = "pod"
		}
		fmt.Fprintf(&b, "%d of %d new %s %s", p.Pods, max(total, int32(p.Pods)), noun, p.Reason)
	} else {
		b.WriteString(p.Reason)
	}
	if p.Message != "" {
		b.WriteString(": " + p.Message)
	}
	if p.Pod != "" {
		fmt.Fprintf(&b, " (pod %s)", p.Pod)
	}
	if n := len(problems) - 1; n == 1 {
		b.WriteString("; and 1 other problem")
	} else if n > 1 {
		fmt.Fprintf(&b, "; and %d other problems", n)
	}
	return b.String()
}
