package testbed

import "strconv"

// The status templates of the Stages. kwok renders them with Go's
// text/template over the pod as JSON (numbers as json.Number), with sprig's
// functions and its own (Now, Quote, NodeIPWith, PodIPWith), and applies the
// YAML result to the pod's status as a strategic merge patch: conditions
// merge by type, container status lists are replaced whole.
//
// The container snippets below describe one container status after its name
// and image, with these variables set by header:
//
//	$root  the pod          $now   the time       $start  the pod's startTime
//	$c     the container's spec
//	$s0    the failing container's status before this step ({} if none)
//	$rc    its restartCount before this step
//	$n     its restartCount after a new start: $rc+1 once a container was created

// header declares the variables; list is the status list of the failing
// container (containerStatuses or initContainerStatuses).
func header(list string) string {
	return `{{ $now := Now }}
{{ $root := . }}
{{ $start := or .status.startTime $now }}
{{ $s0 := index (or .status.` + list + ` (list (dict))) 0 }}
{{ $rc := atoi (toString (dig "restartCount" 0 $s0)) }}
{{ $n := $rc }}{{ if $s0.containerID }}{{ $n = add1 $rc }}{{ end }}
`
}

// Container and image ids, made up but shaped like containerd's.
const (
	containerIDOf = `{{ printf "containerd://%s" (sha256sum (printf "%s/%s/%d" $root.metadata.uid $c.name $n)) | Quote }}`
	imageIDOf     = `{{ printf "%s@sha256:%s" (regexReplaceAll ":[^:/]*$" $c.image "") (sha256sum $c.image) | Quote }}`
)

// tq quotes a Go string for a template's string literal.
func tq(s string) string { return strconv.Quote(s) }

var (
	errImagePull = `
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: ErrImagePull
      message: {{ printf ` + tq(pullErrFmt) + ` $c.image | Quote }}
`
	imagePullBackOff = `
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: ImagePullBackOff
      message: {{ printf ` + tq(`Back-off pulling image "%[1]s": ErrImagePull: `+pullErrFmt) + ` $c.image | Quote }}
`
	containerCreating = `
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: ContainerCreating
`
	// The reference library's words for an upper-case repository (the
	// fault images), or its general ones.
	invalidImageName = `
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: InvalidImageName
      {{ $why := "invalid reference format" }}
      {{ if ne $c.image (lower $c.image) }}{{ $why = printf "invalid reference format: repository name (%s) must be lowercase" (regexReplaceAll ":[^:/]*$" (regexReplaceAll "^[^/]*[.:][^/]*/" $c.image "") "") }}{{ end }}
      message: {{ printf "Failed to apply default image tag %q: couldn't parse image name %q: %s" $c.image $c.image $why | Quote }}
`
	createConfigError = `
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: CreateContainerConfigError
      message: ` + tq(configErr) + `
`
	runningNotReady = running("false")
	runningReady    = running("true")

	exited = `
  containerID: {{ $s0.containerID | Quote }}
  imageID: ` + imageIDOf + `
  ready: false
  started: false
  restartCount: {{ $rc }}
  state:
    terminated:
      containerID: {{ $s0.containerID | Quote }}
      exitCode: __EXIT__
      reason: __REASON__
      startedAt: {{ dig "state" "running" "startedAt" $now $s0 | Quote }}
      finishedAt: {{ $now | Quote }}
`
	crashLoopBackOff = `
  containerID: {{ $s0.containerID | Quote }}
  imageID: ` + imageIDOf + `
  ready: false
  started: false
  restartCount: {{ $rc }}
  state:
    waiting:
      reason: CrashLoopBackOff
      message: ` + backOffMessage + `
  lastState:
    terminated:
      containerID: {{ $s0.containerID | Quote }}
      exitCode: __EXIT__
      reason: __REASON__
      startedAt: {{ dig "state" "running" "startedAt" $now $s0 | Quote }}
      finishedAt: {{ $now | Quote }}
`
	runContainerError = `
  containerID: ` + containerIDOf + `
  imageID: ` + imageIDOf + `
  ready: false
  started: false
  restartCount: {{ $n }}
  state:
    waiting:
      reason: RunContainerError
      message: ` + tq(runErr) + `
  lastState:
    terminated:
      containerID: ` + containerIDOf + `
      exitCode: 128
      reason: StartError
      message: ` + tq(runErr) + `
      startedAt: "1970-01-01T00:00:00Z"
      finishedAt: {{ $now | Quote }}
`
	startErrorBackOff = `
  containerID: {{ $s0.containerID | Quote }}
  imageID: ` + imageIDOf + `
  ready: false
  started: false
  restartCount: {{ $rc }}
  state:
    waiting:
      reason: CrashLoopBackOff
      message: ` + backOffMessage + `
  lastState: {{ toJson $s0.lastState }}
`
	// The kubelet's crash-loop back-off doubles from 10 s at the second
	// exit (restartCount 1) up to 5 minutes.
	backOffMessage = `{{ $backoff := "5m0s" }}{{ if lt $rc 6 }}{{ $backoff = index (list "10s" "20s" "40s" "1m20s" "2m40s") (sub $rc 1) }}{{ end }}` +
		`{{ printf "back-off %s restarting failed container=%s pod=%s_%s(%s)" $backoff $c.name $root.metadata.name $root.metadata.namespace $root.metadata.uid | Quote }}`

	podInitializing = `
  imageID: ""
  ready: false
  started: false
  restartCount: 0
  state:
    waiting:
      reason: PodInitializing
`
)

// running is a container that (re)starts now; a restart keeps the last
// termination in lastState.
func running(ready string) string {
	return `
  containerID: ` + containerIDOf + `
  imageID: ` + imageIDOf + `
  ready: ` + ready + `
  started: true
  restartCount: {{ $n }}
  state:
    running:
      startedAt: {{ $now | Quote }}
  {{ with dig "state" "terminated" "" $s0 }}lastState: {{ dict "terminated" . | toJson }}{{ else }}{{ with $s0.lastState }}lastState: {{ toJson . }}{{ end }}{{ end }}
`
}

// otherReady is a container other than the failing one: running and ready
// since the pod started.
const otherReady = `
  containerID: {{ printf "containerd://%s" (sha256sum (printf "%s/%s/0" $root.metadata.uid $c.name)) | Quote }}
  imageID: ` + imageIDOf + `
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $start | Quote }}
`

// containerList writes a status list: first is the snippet of the first
// container, others that of the rest.
func containerList(list, spec, first, others string) string {
	return list + `:
{{ range $i, $c := $root.spec.` + spec + ` }}
- name: {{ $c.name | Quote }}
  image: {{ $c.image | Quote }}
{{ if eq $i 0 }}` + first + `{{ else }}` + others + `{{ end }}
{{ end }}
`
}

// podIPs are the addresses the kubelet reports once the pod's sandbox runs.
// kwok's nodes may have no address; an empty one is invalid in hostIPs.
const podIPs = `{{ $podIP := PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
{{ $hostIP := NodeIPWith .spec.nodeName }}
{{ if $hostIP }}
hostIP: {{ $hostIP | Quote }}
hostIPs:
- ip: {{ $hostIP | Quote }}
{{ end }}
{{ if $podIP }}
podIP: {{ $podIP | Quote }}
podIPs:
- ip: {{ $podIP | Quote }}
{{ end }}
startTime: {{ $start | Quote }}
`

func condition(typ, status, reason, message string) string {
	s := `- type: ` + typ + `
  status: "` + status + `"
  lastTransitionTime: {{ $now | Quote }}
  observedGeneration: {{ $root.metadata.generation }}
`
	if reason != "" {
		s += "  reason: " + reason + "\n"
	}
	if message != "" {
		s += "  message: " + message + "\n"
	}
	return s
}

// completedInit is every init container finished (the failure is elsewhere).
const completedInit = `{{ if .spec.initContainers }}
initContainerStatuses:
{{ range $i, $c := .spec.initContainers }}
- name: {{ $c.name | Quote }}
  image: {{ $c.image | Quote }}
  imageID: ` + imageIDOf + `
  containerID: {{ printf "containerd://%s" (sha256sum (printf "%s/%s/0" $root.metadata.uid $c.name)) | Quote }}
  restartCount: 0
  {{ if eq (toString $c.restartPolicy) "Always" }}
  ready: true
  started: true
  state:
    running:
      startedAt: {{ $start | Quote }}
  {{ else }}
  ready: true
  started: false
  state:
    terminated:
      containerID: {{ printf "containerd://%s" (sha256sum (printf "%s/%s/0" $root.metadata.uid $c.name)) | Quote }}
      exitCode: 0
      reason: Completed
      startedAt: {{ $start | Quote }}
      finishedAt: {{ $start | Quote }}
  {{ end }}
{{ end }}
{{ end }}
`

// The kubelet's condition messages name containers as Go's %s prints a
// slice of names.
const (
	unreadyFirst = `{{ $unready := printf "containers with unready status: [%s]" (index $root.spec.containers 0).name }}
`
	unreadyAll = `{{ $names := list }}{{ range $root.spec.containers }}{{ $names = append $names .name }}{{ end }}
{{ $unready := printf "containers with unready status: [%s]" (join " " $names) }}
{{ $inits := list }}{{ range $root.spec.initContainers }}{{ $inits = append $inits .name }}{{ end }}
{{ $incomplete := printf "containers with incomplete status: [%s]" (join " " $inits) }}
`
)

// podStarts is the kubelet's first status of a pod whose first container is
// c0: addresses, conditions, init containers done. allReady: every container
// ready (else the first is not).
func podStarts(allReady bool, phase, c0 string) string {
	ready := condition("Ready", "False", "ContainersNotReady", `{{ $unready | Quote }}`)
	containersReady := condition("ContainersReady", "False", "ContainersNotReady", `{{ $unready | Quote }}`)
	if allReady {
		ready = condition("Ready", "True", "", "")
		containersReady = condition("ContainersReady", "True", "", "")
	}
	return header("containerStatuses") + unreadyFirst + podIPs +
		"phase: " + phase + "\nobservedGeneration: {{ .metadata.generation }}\nconditions:\n" +
		condition("PodReadyToStartContainers", "True", "", "") +
		condition("Initialized", "True", "", "") + ready + containersReady +
		completedInit + containerList("containerStatuses", "containers", c0, otherReady)
}

// containers is a later status of such a pod: only the containers change.
func containers(phase, c0 string) string {
	return header("containerStatuses") + "phase: " + phase + "\n" +
		containerList("containerStatuses", "containers", c0, otherReady)
}

// initStarts is the first status of a pod whose first init container is
// init0: not initialized, every app container waiting for the init ones.
func initStarts(phase, init0 string) string {
	return header("initContainerStatuses") + unreadyAll + podIPs +
		"phase: " + phase + "\nobservedGeneration: {{ .metadata.generation }}\nconditions:\n" +
		condition("PodReadyToStartContainers", "True", "", "") +
		condition("Initialized", "False", "ContainersNotInitialized", `{{ $incomplete | Quote }}`) +
		condition("Ready", "False", "ContainersNotReady", `{{ $unready | Quote }}`) +
		condition("ContainersReady", "False", "ContainersNotReady", `{{ $unready | Quote }}`) +
		containerList("containerStatuses", "containers", podInitializing, podInitializing) +
		containerList("initContainerStatuses", "initContainers", init0, podInitializing)
}

// initContainers is a later status of such a pod.
func initContainers(phase, init0 string) string {
	return header("initContainerStatuses") + "phase: " + phase + "\n" +
		containerList("initContainerStatuses", "initContainers", init0, podInitializing)
}

// becomesReady: the first container runs and is ready, so is the pod.
var becomesReady = header("containerStatuses") + "phase: Running\nconditions:\n" +
	condition("Ready", "True", "", "") + condition("ContainersReady", "True", "", "") +
	containerList("containerStatuses", "containers", runningReady, otherReady)

// loaded: the first container, running since it started, becomes ready
// (its readiness probe passes), and so does the pod.
var loaded = header("containerStatuses") + "phase: Running\nconditions:\n" +
	condition("Ready", "True", "", "") + condition("ContainersReady", "True", "", "") +
	containerList("containerStatuses", "containers", `
  containerID: {{ $s0.containerID | Quote }}
  imageID: `+imageIDOf+`
  ready: true
  started: true
  restartCount: {{ $rc }}
  state:
    running:
      startedAt: {{ dig "state" "running" "startedAt" $now $s0 | Quote }}
`, otherReady)

// evictedTemplate: the eviction manager kills every container and fails the pod.
var evictedTemplate = header("containerStatuses") + `phase: Failed
reason: Evicted
message: ` + tq(evictedMsg) + `
conditions:
` + condition("DisruptionTarget", "True", "TerminationByKubelet", tq(evictedMsg)) +
	condition("PodReadyToStartContainers", "False", "", "") +
	condition("Ready", "False", "PodFailed", "") +
	condition("ContainersReady", "False", "PodFailed", "") + `containerStatuses:
{{ range $i, $c := $root.spec.containers }}
{{ $id := printf "containerd://%s" (sha256sum (printf "%s/%s/0" $root.metadata.uid $c.name)) }}
- name: {{ $c.name | Quote }}
  image: {{ $c.image | Quote }}
  imageID: ` + imageIDOf + `
  containerID: {{ $id | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      containerID: {{ $id | Quote }}
      exitCode: 137
      reason: Error
      startedAt: {{ $start | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
`

// defaultReadyTemplate and defaultCompleteTemplate do what kwok v0.7.0's
// default pod stages (pod-ready, pod-complete) do: a pod becomes Running
// with every container ready at once; a Job's running pod completes.
const defaultReadyTemplate = `{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: ContainersReady
{{ range .spec.readinessGates }}
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: {{ .conditionType | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  {{ if eq .restartPolicy "Always" }}
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
  {{ else }}
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
  {{ end }}
{{ end }}
hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
phase: Running
startTime: {{ $now | Quote }}
`

const defaultCompleteTemplate = `{{ $now := Now }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
{{ end }}
phase: Succeeded
`
