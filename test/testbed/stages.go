package testbed

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// This file writes the kwok Stages that play the kubelet's part for pods:
// kwok's own default pod stages (kustomize/stage/pod/fast in kwok v0.7.0),
// told to leave fault pods alone, and the fault stages. A pod Stage in the
// kwokctl configuration replaces all of kwok's default pod stages, so the
// defaults are written here too. kwok keeps its default node stages, but in
// clusters with Options.KubeletStops (kubelet.go, nodeInitialize below).
//
// kwok v0.7.0 matches a pod against every Stage on each change of the pod,
// picks the one that matches (the selectors below never overlap), waits the
// Stage's delay, then records its event and patches the pod's status with
// its template (a Go template over the pod as JSON, with sprig's functions).
// A fault is therefore a small state machine: each Stage selects the pod's
// fault and the state of its failing container, and moves it to the next.
//
// kwok records a Stage's event message verbatim (no template), so an event
// message can name a pod's image only when the image is known in advance: the
// fault images get Stages of their own whose messages name them.

// faultExpr is a jq expression for the pod's fault: its FaultLabel value,
// or else the fault its first container's image names, or else FaultInitCrash
// when its first init container's image is one of that fault's.
var faultExpr = fmt.Sprintf(`.metadata.labels[%[1]q] // `+
	`((.spec.containers[0].image // "") | select(startswith(%[2]q)) | ltrimstr(%[2]q) | split(":")[0] | ascii_downcase) // `+
	`((.spec.initContainers[0].image // "") | select(startswith(%[3]q)) | %[4]q)`,
	FaultLabel, faultRegistry, faultRegistry+FaultInitCrash+":", FaultInitCrash)

// stateExpr is a jq expression for the state of the first container of a
// status list (containerStatuses or initContainerStatuses): "new" when the
// kubelet has reported nothing yet, else the state ("waiting:<reason>",
// "running", "terminated") and ":first" (restartCount 0) or ":again".
func stateExpr(list string) string {
	return fmt.Sprintf(`((.status.%s // [])[0]) as $c | if $c == null then "new" else `+
		`(if $c.state.waiting != null then "waiting:" + ($c.state.waiting.reason // "") `+
		`elif $c.state.running != null then "running" `+
		`elif $c.state.terminated != null then "terminated" else "unknown" end) + `+
		`(if ($c.restartCount // 0) == 0 then ":first" else ":again" end) end`, list)
}

// pulledLongEnough is a jq expression: "yes" once the pod started 5 s ago or
// more (startTime has whole seconds).
const pulledLongEnough = `if (.status.startTime // "") == "" then "no" elif (now - (.status.startTime | fromdate)) >= 5 then "yes" else "no" end`

// Delays between states, in milliseconds: [duration, jitter]; kwok waits a
// random time between the two.
var (
	delayStart   = [2]int64{100, 400}   // the kubelet's first sync of a new pod
	delayStep    = [2]int64{1000, 2000} // a container runs, exits, or a pull fails
	delayBackOff = [2]int64{2000, 3000} // a back-off (the kubelet's are 10 s and up)
	delayPull    = [2]int64{7500, 8500} // FaultSlowPull's pull
	delayEvict   = [2]int64{2000, 3000} // FaultEvicted's pod runs this long
)

// The kubelet's and the container runtime's messages (see the package doc).
const (
	// containerd's error for a tag the registry does not have; %[1]s is the image.
	pullErrFmt = `rpc error: code = NotFound desc = failed to pull and unpack image "%[1]s": failed to resolve reference "%[1]s": %[1]s: not found`
	// runc's error for a command that does not exist in the image.
	runErr = `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: exec: "/app/server": stat /app/server: no such file or directory: unknown`
	// The kubelet's error when a ConfigMap an env var refers to is missing.
	configErr = `configmap "app-config" not found`
	// The prober's event for a readiness probe answered with 503.
	unhealthy = `Readiness probe failed: HTTP probe failed with statuscode: 503`
	// The eviction manager's message for memory pressure.
	evictedMsg = `The node was low on resource: memory. Threshold quantity: 100Mi, available: 48236Ki. `
	// The kubelet's crash-loop event; kwok cannot name the container and
	// pod the kubelet's message goes on with (" web in pod web-1_ns(uid)").
	backOffMsg = `Back-off restarting failed container`
)

// stageEvent is the event a Stage records when it plays.
type stageEvent struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func warning(reason, message string) *stageEvent {
	return &stageEvent{Type: "Warning", Reason: reason, Message: message}
}

func normal(reason, message string) *stageEvent {
	return &stageEvent{Type: "Normal", Reason: reason, Message: message}
}

var started = normal("Started", "Container started")

// step is one transition of a fault's state machine.
type step struct {
	name  string
	state string // the failing container's state (stateExpr) the step starts from
	extra []requirement
	delay [2]int64
	// event returns the event, given the pod's first image when it is a
	// known fault image, else "". nil: no event.
	event func(image string) *stageEvent
	// imageEvent: event depends on the image, so the step is written once
	// per fault image and once for any other image.
	imageEvent bool
	status     string // status template; "" patches nothing
}

func always(e *stageEvent) func(string) *stageEvent { return func(string) *stageEvent { return e } }

type requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// stagesConfig returns the kwokctl configuration documents (YAML: JSON
// documents separated by "---") of every pod Stage of the test bed, and
// with kubeletStops (Options.KubeletStops) its node Stages (kubelet.go).
func stagesConfig(kubeletStops bool) string {
	var docs []string
	add := func(name string, labels map[string]string, reqs []requirement, delay [2]int64, ev *stageEvent, status string, extra map[string]any, more ...func(spec map[string]any)) {
		selector := map[string]any{"matchExpressions": reqs}
		if labels != nil {
			selector["matchLabels"] = labels
		}
		spec := map[string]any{
			"resourceRef": map[string]string{"apiGroup": "v1", "kind": "Pod"},
			"selector":    selector,
		}
		if delay != [2]int64{} {
			spec["delay"] = map[string]int64{"durationMilliseconds": delay[0], "jitterDurationMilliseconds": delay[1]}
		}
		next := map[string]any{}
		if ev != nil {
			next["event"] = ev
		}
		if status != "" {
			next["statusTemplate"] = status
		}
		for k, v := range extra {
			next[k] = v
		}
		spec["next"] = next
		for _, f := range more {
			f(spec)
		}
		raw, err := json.MarshalIndent(map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1",
			"kind":       "Stage",
			"metadata":   map[string]string{"name": name},
			"spec":       spec,
		}, "", "  ")
		if err != nil {
			panic(err) // maps of strings: cannot fail
		}
		docs = append(docs, string(raw))
	}

	notDeleted := requirement{Key: ".metadata.deletionTimestamp", Operator: "DoesNotExist"}
	noFault := requirement{Key: faultExpr, Operator: "NotIn", Values: Faults}

	notSlow := requirement{Key: slowStartExpr, Operator: "In", Values: []string{"no"}}

	// kwok's default pod stages; ready and complete leave fault pods alone,
	// ready slow starts too.
	add("pod-ready", nil, []requirement{notDeleted, {Key: ".status.podIP", Operator: "DoesNotExist"}, noFault, notSlow},
		[2]int64{}, nil, defaultReadyTemplate, nil)
	add("pod-complete", nil, []requirement{notDeleted, {Key: ".status.phase", Operator: "In", Values: []string{"Running"}},
		{Key: ".metadata.ownerReferences.[].kind", Operator: "In", Values: []string{"Job"}}, noFault},
		[2]int64{}, nil, defaultCompleteTemplate, nil)
	deleting := requirement{Key: ".metadata.deletionTimestamp", Operator: "Exists"}
	gone := map[string]any{"finalizers": map[string]bool{"empty": true}, "delete": true}
	add("pod-delete", nil, []requirement{deleting, {Key: preStopFailsExpr, Operator: "In", Values: []string{"no"}}},
		[2]int64{}, nil, "", gone)
	// A preStop hook that cannot run (NoShellImage): the kubelet's event,
	// then the pod goes as any other.
	add("testbed-prestop-fails", nil, []requirement{deleting, {Key: preStopFailsExpr, Operator: "In", Values: []string{"yes"}}},
		[2]int64{}, warning("FailedPreStopHook", "PreStopHook failed"), "", gone)

	// kwok tries every Stage on every change of every pod, so each fault
	// Stage rules an ordinary pod out with its first test: a label (matched
	// natively) or the first container's image.
	noLabel := requirement{Key: fmt.Sprintf(".metadata.labels[%q]", FaultLabel), Operator: "DoesNotExist"}
	for _, fault := range Faults {
		list := "containerStatuses"
		if fault == FaultInitCrash {
			list = "initContainerStatuses"
		}
		images := faultImages(fault)
		imageKey := ".spec.containers[0].image"
		var needs []requirement
		if fault == FaultInitCrash {
			// Either image chooses it (jq's "," makes both values, In takes
			// either); it needs an init container to crash.
			imageKey = "(.spec.initContainers[0].image, .spec.containers[0].image)"
			needs = []requirement{{Key: ".spec.initContainers[0].name", Operator: "Exists"}}
		}
		for _, s := range faultSteps(fault) {
			rest := append(append([]requirement{notDeleted}, needs...), requirement{Key: stateExpr(list), Operator: "In", Values: []string{s.state}})
			rest = append(rest, s.extra...)
			name := "testbed-" + fault + "-" + s.name
			event := func(image string) *stageEvent {
				if s.event == nil {
					return nil
				}
				return s.event(image)
			}
			with := func(first ...requirement) []requirement { return append(first, rest...) }

			// Chosen by the label: the event names the image when it is one
			// of the fault's images.
			byLabel := map[string]string{FaultLabel: fault}
			if s.imageEvent {
				for i, image := range images {
					add(fmt.Sprintf("%s-label-%s", name, FaultImageTags[i]), byLabel,
						with(requirement{Key: imageKey, Operator: "In", Values: []string{image}}), s.delay, event(image), s.status, nil)
				}
				add(name+"-label", byLabel, with(requirement{Key: imageKey, Operator: "NotIn", Values: images}), s.delay, event(""), s.status, nil)
			} else {
				add(name+"-label", byLabel, rest, s.delay, event(""), s.status, nil)
			}

			// Chosen by the image, on a pod without the label.
			if s.imageEvent {
				for i, image := range images {
					add(fmt.Sprintf("%s-image-%s", name, FaultImageTags[i]), nil,
						with(requirement{Key: imageKey, Operator: "In", Values: []string{image}}, noLabel), s.delay, event(image), s.status, nil)
				}
			} else {
				add(name+"-image", nil, with(requirement{Key: imageKey, Operator: "In", Values: images}, noLabel), s.delay, event(""), s.status, nil)
			}
		}
	}

	// Slow starts (SlowStartImage): the container runs at once and is ready
	// after the time its image's tag names.
	slow := requirement{Key: slowStartExpr, Operator: "In", Values: []string{"yes"}}
	add("testbed-slow-start-start", nil, []requirement{slow, notDeleted, noFault, {Key: ".status.podIP", Operator: "DoesNotExist"}},
		delayStart, started, podStarts(false, "Running", runningNotReady), nil)
	add("testbed-slow-start-ready", nil, []requirement{slow, notDeleted, noFault,
		{Key: stateExpr("containerStatuses"), Operator: "In", Values: []string{"running:first"}},
		{Key: ".status.containerStatuses[0].ready", Operator: "In", Values: []string{"false"}}},
		[2]int64{}, nil, turnsReady, nil, func(spec map[string]any) {
			// kwok parses the tag with time.ParseDuration; a tag that is
			// no duration waits slowStartDefault.
			spec["delay"] = map[string]any{
				"durationMilliseconds": slowStartDefault.Milliseconds(),
				"durationFrom":         map[string]string{"expressionFrom": fmt.Sprintf(`.spec.containers[0].image | ltrimstr(%q)`, slowStartRepo+":")},
			}
		})
	if kubeletStops {
		// A kubelet that comes back reports its pods anew: those the node
		// lifecycle controller marked not ready, whose containers are all
		// still ready, are ready again.
		add("testbed-kubelet-resync", nil, []requirement{notDeleted, {Key: resyncExpr, Operator: "In", Values: []string{"yes"}}},
			delayStart, nil, readyAgain, nil)
		docs = append(docs, nodeInitialize)
	}
	return strings.Join(docs, "\n---\n") + "\n"
}

// resyncExpr is a jq expression: "yes" for a running pod whose Ready
// condition is False while every container is ready, which only the node
// lifecycle controller does (MarkPodsNotReady), and whose node's kubelet is
// not stopped (stoppedLabel), else "no".
const resyncExpr = `if (.status.phase == "Running") and ((.metadata.labels["` + stoppedLabel + `"] // "") != "true") ` +
	`and ((.status.conditions // []) | any(.type == "Ready" and .status == "False")) ` +
	`and ((.status.containerStatuses // []) | length > 0 and all(.ready == true)) then "yes" else "no" end`

const readyAgain = `conditions:
- lastTransitionTime: {{ Now | Quote }}
  status: "True"
  type: Ready
`

// nodeInitialize is the one node Stage of clusters with
// Options.KubeletStops, our own in place of kwok's defaults (a node Stage in
// the configuration replaces them all): it makes a node whose Ready
// condition is not True Ready, with kwok's conditions for a healthy node,
// an address and room for any test's pods. kwok's other default,
// node-heartbeat-with-lease, is left out, because kwok queues a Stage with
// its delay (10 to 20 minutes for that one) and plays it even if the
// node's lease has passed to another holder since: a heartbeat queued
// before StopKubelet would mark the node Ready in the middle of the outage.
// The Lease alone keeps a node Ready, as it does between a real kubelet's
// status reports.
const nodeInitialize = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: testbed-node-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select(.type == "Ready") | .status'
      operator: NotIn
      values: ["True"]
  next:
    statusTemplate: |
      phase: Running
      conditions:
      {{ range NodeConditions }}
      - type: {{ .type | Quote }}
        status: {{ .status | Quote }}
        reason: {{ .reason | Quote }}
        message: {{ .message | Quote }}
        lastHeartbeatTime: {{ Now | Quote }}
        lastTransitionTime: {{ Now | Quote }}
      {{ end }}
      addresses:
      - type: InternalIP
        address: {{ NodeIP | Quote }}
      capacity: {cpu: "64", memory: 256Gi, pods: "10000"}
      allocatable: {cpu: "64", memory: 256Gi, pods: "10000"}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{ printf "kwok-%s" Version | Quote }}`

// NoShellImage is an image with no shell and no sleep in it, as a
// distroless image: its pods run and are ready at once, but an exec preStop
// hook of a container with it (`sleep 5`, say) fails when the pod is
// deleted, and the kubelet (kuberuntime's executePreStopHook) records a
// Warning FailedPreStopHook event, "PreStopHook failed", on the pod (it
// never says why, so that no secret leaks); the pod then goes at once.
const NoShellImage = "registry.testbed.invalid/no-shell:v1"

// preStopFailsExpr is a jq expression: "yes" when a container of the pod
// has NoShellImage and an exec preStop hook, else "no".
var preStopFailsExpr = fmt.Sprintf(`if ((.spec.containers // []) | any(((.image // "") == %q) and (.lifecycle.preStop.exec != null))) then "yes" else "no" end`, NoShellImage)

// slowStartRepo is the repository of SlowStartImage's images.
const slowStartRepo = "registry.testbed.invalid/slow-start"

// slowStartDefault is how long a slow-start image whose tag is no duration
// takes to become ready.
const slowStartDefault = 8 * time.Second

// slowStartExpr is a jq expression: "yes" when the pod's first container
// has a SlowStartImage, else "no".
var slowStartExpr = fmt.Sprintf(`if ((.spec.containers[0].image // "") | startswith(%q)) then "yes" else "no" end`, slowStartRepo+":")

// SlowStartImage returns an image whose container starts at once but
// becomes ready only after d, as an application that warms up behind its
// readiness probe: the pod is Running with Ready False (ContainersNotReady,
// no Warning event) for d, then Ready. Its tag is d ("registry.testbed.invalid/slow-start:40s"),
// so a rollout to it takes about d per surge of new pods.
func SlowStartImage(d time.Duration) string { return slowStartRepo + ":" + d.String() }

// faultSteps is the state machine of a fault.
func faultSteps(fault string) []step {
	switch fault {
	case FaultImagePull, FaultPullThenRun:
		pullFailed := func(image string) *stageEvent {
			if image == "" {
				return warning("Failed", "Error: ErrImagePull")
			}
			return warning("Failed", fmt.Sprintf(`Failed to pull image %q: `+pullErrFmt, image))
		}
		steps := []step{
			{name: "pull-failed", state: "new", delay: delayStart, event: pullFailed, imageEvent: true,
				status: podStarts(false, "Pending", errImagePull)},
			{name: "back-off", state: "waiting:ErrImagePull:first", delay: delayStep,
				event: always(warning("Failed", "Error: ImagePullBackOff")), status: containers("Pending", imagePullBackOff)},
		}
		if fault == FaultImagePull {
			return append(steps, step{name: "pull-again", state: "waiting:ImagePullBackOff:first", delay: delayBackOff,
				event: pullFailed, imageEvent: true, status: containers("Pending", errImagePull)})
		}
		return append(steps,
			step{name: "pull-again", state: "waiting:ImagePullBackOff:first", delay: delayBackOff,
				extra: []requirement{{Key: pulledLongEnough, Operator: "In", Values: []string{"no"}}},
				event: pullFailed, imageEvent: true, status: containers("Pending", errImagePull)},
			step{name: "pulled", state: "waiting:ImagePullBackOff:first", delay: delayStep,
				extra: []requirement{{Key: pulledLongEnough, Operator: "In", Values: []string{"yes"}}},
				event: pulled, imageEvent: true, status: becomesReady})

	case FaultSlowPull:
		return []step{
			{name: "pulling", state: "new", delay: delayStart, imageEvent: true,
				event: func(image string) *stageEvent {
					if image == "" {
						return nil
					}
					return normal("Pulling", fmt.Sprintf("Pulling image %q", image))
				},
				status: podStarts(false, "Pending", containerCreating)},
			{name: "pulled", state: "waiting:ContainerCreating:first", delay: delayPull,
				event: pulled, imageEvent: true, status: becomesReady},
		}

	case FaultInvalidImage:
		return []step{
			{name: "invalid", state: "new", delay: delayStart, imageEvent: true,
				event: func(image string) *stageEvent {
					if image == "" {
						return warning("Failed", "Error: InvalidImageName")
					}
					return warning("InspectFailed", invalidImageMessage(image))
				},
				status: podStarts(false, "Pending", invalidImageName)},
			{name: "invalid-again", state: "waiting:InvalidImageName:first", delay: delayStep,
				event: always(warning("Failed", "Error: InvalidImageName"))},
		}

	case FaultConfigError:
		return []step{{name: "config-error", state: "new", delay: delayStart,
			event: always(warning("Failed", "Error: "+configErr)), status: podStarts(false, "Pending", createConfigError)}}

	case FaultCrashLoop, FaultOOMKilled, FaultInitCrash:
		exit, reason := "1", "Error"
		if fault == FaultOOMKilled {
			exit, reason = "137", "OOMKilled"
		}
		r := strings.NewReplacer("__EXIT__", exit, "__REASON__", reason)
		t := containers
		first := func(phase, c0 string) string { return podStarts(false, phase, c0) }
		phase := "Running"
		if fault == FaultInitCrash {
			t, first, phase = initContainers, initStarts, "Pending"
		}
		return []step{
			{name: "start", state: "new", delay: delayStart, event: always(started), status: first(phase, runningNotReady)},
			{name: "exit", state: "running:first", delay: delayStep, status: t(phase, r.Replace(exited))},
			{name: "restart", state: "terminated:first", delay: delayStart, event: always(started), status: t(phase, runningNotReady)},
			{name: "crash", state: "running:again", delay: delayStep,
				event: always(warning("BackOff", backOffMsg)), status: t(phase, r.Replace(crashLoopBackOff))},
			{name: "restart-again", state: "waiting:CrashLoopBackOff:again", delay: delayBackOff,
				event: always(started), status: t(phase, runningNotReady)},
		}

	case FaultRunError:
		failed := always(warning("Failed", "Error: "+runErr))
		return []step{
			{name: "start-failed", state: "new", delay: delayStart, event: failed, status: podStarts(false, "Running", runContainerError)},
			{name: "start-failed-again", state: "waiting:RunContainerError:first", delay: delayStep, event: failed,
				status: containers("Running", runContainerError)},
			{name: "back-off", state: "waiting:RunContainerError:again", delay: delayStep,
				event: always(warning("BackOff", backOffMsg)), status: containers("Running", startErrorBackOff)},
			{name: "start-failed-after-back-off", state: "waiting:CrashLoopBackOff:again", delay: delayBackOff, event: failed,
				status: containers("Running", runContainerError)},
		}

	case FaultNotReady:
		return []step{
			{name: "start", state: "new", delay: delayStart, event: always(started), status: podStarts(false, "Running", runningNotReady)},
			{name: "probe-failed", state: "running:first", delay: delayStep, event: always(warning("Unhealthy", unhealthy))},
		}

	case FaultEvicted:
		return []step{
			{name: "start", state: "new", delay: delayStart, event: always(started), status: podStarts(true, "Running", runningReady)},
			{name: "evict", state: "running:first", delay: delayEvict, event: always(warning("Evicted", evictedMsg)), status: evictedTemplate},
		}
	}
	panic("testbed: no stages for fault " + fault)
}

func pulled(image string) *stageEvent {
	if image == "" {
		return started
	}
	return normal("Pulled", fmt.Sprintf("Successfully pulled image %q in 8s (8s including waiting). Image size: 4718592 bytes.", image))
}

// invalidImageMessage is the kubelet's message for a fault image of
// FaultInvalidImage, as github.com/distribution/reference words the parse
// error of an upper-case repository.
func invalidImageMessage(image string) string {
	repo := strings.TrimPrefix(image[:strings.LastIndex(image, ":")], "registry.testbed.invalid/")
	return fmt.Sprintf(`Failed to apply default image tag %q: couldn't parse image name %q: invalid reference format: repository name (%s) must be lowercase`, image, image, repo)
}
