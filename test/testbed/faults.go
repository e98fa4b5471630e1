package testbed

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// FaultLabel is a pod (template) label key; its value, one of the Fault
// constants, picks how every pod carrying it fails. The failing container is
// the pod's first container (its first init container for FaultInitCrash);
// the others run and are ready.
const FaultLabel = "testbed.deploywatch.dev/fault"

// The ways a pod can fail on the test bed, as FaultLabel values and as
// FaultImage arguments. Each produces the container states, pod conditions
// and Warning events a real kubelet (v1.37) reports for that failure; see
// the package documentation for what each looks like and where the kubelet
// makes it.
const (
	// FaultImagePull: the image cannot be pulled (the registry says not
	// found): waiting ErrImagePull, then ImagePullBackOff, alternating like a
	// kubelet's pull back-off, with Warning Failed events.
	FaultImagePull = "image-pull"
	// FaultInvalidImage: waiting InvalidImageName.
	FaultInvalidImage = "invalid-image"
	// FaultCrashLoop: the container starts and exits 1 (Error), then
	// CrashLoopBackOff; restartCount grows and lastState.terminated tells the
	// last exit.
	FaultCrashLoop = "crash-loop"
	// FaultOOMKilled: as FaultCrashLoop, with reason OOMKilled and exit code 137.
	FaultOOMKilled = "oom-killed"
	// FaultConfigError: waiting CreateContainerConfigError (a ConfigMap the
	// container's environment refers to does not exist).
	FaultConfigError = "config-error"
	// FaultRunError: the runtime cannot start the container: waiting
	// RunContainerError, then CrashLoopBackOff, lastState.terminated StartError.
	FaultRunError = "run-error"
	// FaultInitCrash: the first init container crash-loops (kubectl shows
	// Init:CrashLoopBackOff); the pod stays Pending and not Initialized.
	FaultInitCrash = "init-crash"
	// FaultNotReady: the containers run but the first never becomes ready
	// (its readiness probe fails): a Warning Unhealthy event.
	FaultNotReady = "not-ready"
	// FaultEvicted: the pod runs, then the kubelet evicts it: phase Failed,
	// reason Evicted.
	FaultEvicted = "evicted"
	// FaultSlowPull: waiting ContainerCreating for about 8 s (pulling), then
	// Running and Ready. Not a failure: a false-alarm case.
	FaultSlowPull = "slow-pull"
	// FaultPullThenRun: ErrImagePull and ImagePullBackOff for about 8 s (a
	// transient registry error), then Running and Ready. Not a failure in
	// the end: a false-alarm case.
	FaultPullThenRun = "pull-then-run"
	// FaultSlowStart: the containers run at once but the first becomes
	// ready only SlowStartDelay later, as an application that loads before
	// it serves (with or without a readiness probe: the kubelet's Ready is
	// what the endpointslice controller follows). Not a failure: the case
	// where a rollout that does not wait for readiness drops requests.
	FaultSlowStart = "slow-start"
)

// SlowStartDelay is how long a FaultSlowStart container runs before it is
// ready.
const SlowStartDelay = 6 * time.Second

// Faults lists every fault, in the order of the constants.
var Faults = []string{
	FaultImagePull, FaultInvalidImage, FaultCrashLoop, FaultOOMKilled, FaultConfigError,
	FaultRunError, FaultInitCrash, FaultNotReady, FaultEvicted, FaultSlowPull, FaultPullThenRun, FaultSlowStart,
}

// FaultImageTags are the tags FaultImageTag takes: two broken images of one
// fault (v1 and v2, say) make two different broken set-images.
var FaultImageTags = []string{"v1", "v2"}

// faultRegistry is where fault images live. The .invalid top-level domain
// (RFC 2606) never resolves, so no real pull could ever succeed.
const faultRegistry = "registry.testbed.invalid/fault/"

// FaultImage returns an image that makes a pod fail the given way when it is
// its first container's image, so that `set-image web=<FaultImage(...)>`
// breaks a rollout the way a bad tag does: the test bed's kubelet (kwok)
// selects pods by that image, no label needed. FaultImage(FaultInitCrash)
// also works as the first init container's image. It is
// FaultImageTag(fault, "v1").
func FaultImage(fault string) string { return FaultImageTag(fault, FaultImageTags[0]) }

// FaultImageTag is FaultImage with one of FaultImageTags, for a second (or
// third) broken image of the same kind. It panics on an unknown fault or tag:
// that is a mistake in the test.
func FaultImageTag(fault, tag string) string {
	if !slices.Contains(Faults, fault) {
		panic(fmt.Sprintf("testbed: unknown fault %q; the faults are %v", fault, Faults))
	}
	if !slices.Contains(FaultImageTags, tag) {
		panic(fmt.Sprintf("testbed: fault image tag %q is none of %v", tag, FaultImageTags))
	}
	repo := fault
	if fault == FaultInvalidImage {
		// Upper case makes the reference invalid for the kubelet (the API
		// server takes any image string), the commonest invalid image.
		repo = strings.ToUpper(fault)
	}
	return faultRegistry + repo + ":" + tag
}

// faultImages are the fault's images, one per tag.
func faultImages(fault string) []string {
	var images []string
	for _, tag := range FaultImageTags {
		images = append(images, FaultImageTag(fault, tag))
	}
	return images
}
