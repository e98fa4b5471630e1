package testbed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// The kubelet's (v1.37) and containerd's words, written out here apart from
// the stages that make them, so that a change to either is caught.
const (
	ordinaryImage = "registry.k8s.io/pause:3.10"
	configErr     = `configmap "app-config" not found`
	runErr        = `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: exec: "/app/server": stat /app/server: no such file or directory: unknown`
)

func pullErr(image string) string {
	return fmt.Sprintf(`rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found`, image, image, image)
}

// backOff is the kubelet's crash-loop back-off after restartCount restarts.
func backOff(restartCount int32) string {
	d := 10 * time.Second
	for i := int32(1); i < restartCount; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute).String()
}

func podDesc(p *corev1.Pod) string { return fmt.Sprintf("%s_%s(%s)", p.Name, p.Namespace, p.UID) }

// TestFaults makes each fault happen to a pod and checks that the pod looks
// the way a real kubelet makes it look, and that an ordinary pod and a
// Deployment in the same cluster still run.
func TestFaults(t *testing.T) {
	skipIfShort(t)

	t.Run("ordinary pods run", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		createPod(t, cs, ns, "plain", nil, ordinaryImage)
		p := waitPod(t, cs, ns, "plain", "Running and Ready", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && podCondition(p, corev1.PodReady) == corev1.ConditionTrue
		})
		if s := p.Status.ContainerStatuses; len(s) != 1 || !s[0].Ready || s[0].State.Running == nil {
			t.Errorf("container statuses of an ordinary pod: %+v", s)
		}
		d := createDeployment(t, cs, ns, "web", nil, ordinaryImage, 2)
		waitRolledOut(t, cs, ns, d.Name)
	})

	t.Run("image-pull by label", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		createPod(t, cs, ns, "p", map[string]string{testbed.FaultLabel: testbed.FaultImagePull}, ordinaryImage)
		checkImagePull(t, cs, ns, "p", ordinaryImage, "Error: ErrImagePull")
	})

	t.Run("image-pull by set-image", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		d := createDeployment(t, cs, ns, "web", nil, ordinaryImage, 2)
		waitRolledOut(t, cs, ns, d.Name)
		for _, tag := range []string{"v1", "v2"} {
			bad := testbed.FaultImageTag(testbed.FaultImagePull, tag)
			if tag == "v1" && bad != testbed.FaultImage(testbed.FaultImagePull) {
				t.Errorf("FaultImage %q is not FaultImageTag(..., v1) %q", testbed.FaultImage(testbed.FaultImagePull), bad)
			}
			setImage(t, cs, ns, d.Name, bad)
			p := waitPod(t, cs, ns, "", "a pod of image "+bad, func(p *corev1.Pod) bool {
				return p.Spec.Containers[0].Image == bad && p.DeletionTimestamp == nil
			})
			checkImagePull(t, cs, ns, p.Name, bad, fmt.Sprintf("Failed to pull image %q: %s", bad, pullErr(bad)))
		}
		// The old ReplicaSet's pods keep running: the rollout is stuck, not down.
		waitDeployment(t, cs, ns, d.Name, "2 available, 1 updated unavailable", func(d *appsv1.Deployment) bool {
			return d.Status.AvailableReplicas == 2 && d.Status.UpdatedReplicas >= 1 && d.Status.UnavailableReplicas >= 1
		})
	})

	for _, tc := range []struct {
		fault, exitReason string
		exitCode          int32
	}{{testbed.FaultCrashLoop, "Error", 1}, {testbed.FaultOOMKilled, "OOMKilled", 137}} {
		t.Run(tc.fault, func(t *testing.T) {
			t.Parallel()
			cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
			createPod(t, cs, ns, "p", map[string]string{testbed.FaultLabel: tc.fault}, ordinaryImage)
			var sawRunning, sawExited bool
			p := waitPod(t, cs, ns, "p", "CrashLoopBackOff with restartCount 2", func(p *corev1.Pod) bool {
				c := firstStatus(p)
				if c == nil {
					return false
				}
				if c.State.Running != nil && !c.Ready && c.Started != nil && *c.Started && c.ContainerID != "" {
					sawRunning = true
				}
				if term := c.State.Terminated; term != nil && term.ExitCode == tc.exitCode && term.Reason == tc.exitReason && c.RestartCount == 0 {
					sawExited = true // the first exit, restarted at once
				}
				return c.State.Waiting != nil && c.State.Waiting.Reason == "CrashLoopBackOff" && c.RestartCount >= 2
			})
			if !sawRunning || !sawExited {
				t.Errorf("saw running (not ready, started) %v, saw the first exit (terminated %s) %v; want both", sawRunning, tc.exitReason, sawExited)
			}
			c := firstStatus(p)
			if want := fmt.Sprintf("back-off %s restarting failed container=web pod=%s", backOff(c.RestartCount), podDesc(p)); c.State.Waiting.Message != want {
				t.Errorf("waiting message %q, want %q", c.State.Waiting.Message, want)
			}
			last := c.LastTerminationState.Terminated
			if last == nil || last.ExitCode != tc.exitCode || last.Reason != tc.exitReason || last.StartedAt.IsZero() ||
				last.FinishedAt.Before(&last.StartedAt) || !strings.HasPrefix(last.ContainerID, "containerd://") {
				t.Errorf("lastState.terminated %+v, want exit code %d, reason %s, times and a container id", last, tc.exitCode, tc.exitReason)
			}
			if c.Ready || c.Started == nil || *c.Started || p.Status.Phase != corev1.PodRunning {
				t.Errorf("ready %v, started %v, phase %s; want not ready, not started, Running", c.Ready, c.Started, p.Status.Phase)
			}
			checkNotReady(t, p, "[web]")
			waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container")
		})
	}

	t.Run("crash-loop by set-image, then fixed", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		d := createDeployment(t, cs, ns, "web", nil, ordinaryImage, 2)
		waitRolledOut(t, cs, ns, d.Name)
		bad := testbed.FaultImage(testbed.FaultCrashLoop)
		setImage(t, cs, ns, d.Name, bad)
		p := waitPod(t, cs, ns, "", "of image "+bad+" in CrashLoopBackOff", func(p *corev1.Pod) bool {
			c := firstStatus(p)
			return p.Spec.Containers[0].Image == bad && c != nil && c.State.Waiting != nil && c.State.Waiting.Reason == "CrashLoopBackOff"
		})
		c := firstStatus(p)
		if want := fmt.Sprintf("back-off %s restarting failed container=web pod=%s", backOff(c.RestartCount), podDesc(p)); c.State.Waiting.Message != want {
			t.Errorf("waiting message %q, want %q", c.State.Waiting.Message, want)
		}
		if last := c.LastTerminationState.Terminated; last == nil || last.ExitCode != 1 || last.Reason != "Error" {
			t.Errorf("lastState.terminated %+v, want exit code 1, Error", last)
		}
		// A fixed image rolls out: the crash-looping pods go, new ones run.
		setImage(t, cs, ns, d.Name, ordinaryImage)
		waitRolledOut(t, cs, ns, d.Name)
	})

	t.Run("config-error", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		createPod(t, cs, ns, "p", map[string]string{testbed.FaultLabel: testbed.FaultConfigError}, ordinaryImage)
		p := waitPod(t, cs, ns, "p", "CreateContainerConfigError", func(p *corev1.Pod) bool {
			c := firstStatus(p)
			return c != nil && c.State.Waiting != nil && c.State.Waiting.Reason == "CreateContainerConfigError"
		})
		c := firstStatus(p)
		if c.State.Waiting.Message != configErr || c.Ready || c.RestartCount != 0 || p.Status.Phase != corev1.PodPending {
			t.Errorf("status %+v, phase %s; want message %q, not ready, Pending", c, p.Status.Phase, configErr)
		}
		checkNotReady(t, p, "[web]")
		waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "Failed", "Error: "+configErr)
	})

	t.Run("invalid-image by image", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		bad := testbed.FaultImage(testbed.FaultInvalidImage)
		createPod(t, cs, ns, "p", nil, bad)
		p := waitPod(t, cs, ns, "p", "InvalidImageName", func(p *corev1.Pod) bool {
			c := firstStatus(p)
			return c != nil && c.State.Waiting != nil && c.State.Waiting.Reason == "InvalidImageName"
		})
		want := fmt.Sprintf(`Failed to apply default image tag %q: couldn't parse image name %q: invalid reference format: repository name (fault/INVALID-IMAGE) must be lowercase`, bad, bad)
		if c := firstStatus(p); c.State.Waiting.Message != want || c.Ready || p.Status.Phase != corev1.PodPending {
			t.Errorf("status %+v, phase %s; want message %q, not ready, Pending", c, p.Status.Phase, want)
		}
		checkNotReady(t, p, "[web]")
		waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "InspectFailed", want)
		waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "Failed", "Error: InvalidImageName")
	})

	t.Run("run-error", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		createPod(t, cs, ns, "p", map[string]string{testbed.FaultLabel: testbed.FaultRunError}, ordinaryImage)
		var runError *corev1.ContainerStatus
		p := waitPod(t, cs, ns, "p", "RunContainerError, then CrashLoopBackOff", func(p *corev1.Pod) bool {
			c := firstStatus(p)
			if c == nil || c.State.Waiting == nil {
				return false
			}
			if c.State.Waiting.Reason == "RunContainerError" && c.RestartCount >= 1 {
				runError = c
			}
			return runError != nil && c.State.Waiting.Reason == "CrashLoopBackOff"
		})
		if runError.State.Waiting.Message != runErr {
			t.Errorf("RunContainerError message %q, want %q", runError.State.Waiting.Message, runErr)
		}
		c := firstStatus(p)
		if want := fmt.Sprintf("back-off %s restarting failed container=web pod=%s", backOff(c.RestartCount), podDesc(p)); c.State.Waiting.Message != want {
			t.Errorf("waiting message %q, want %q", c.State.Waiting.Message, want)
		}
		for _, s := range []*corev1.ContainerStatus{runError, c} {
			last := s.LastTerminationState.Terminated
			if last == nil || last.ExitCode != 128 || last.Reason != "StartError" || last.Message != runErr || last.FinishedAt.IsZero() {
				t.Errorf("%s: lastState.terminated %+v, want exit code 128, StartError, the runtime's message", s.State.Waiting.Reason, last)
			}
		}
		if p.Status.Phase != corev1.PodRunning || c.Ready {
			t.Errorf("phase %s, ready %v; want Running, not ready", p.Status.Phase, c.Ready)
		}
		checkNotReady(t, p, "[web]")
		waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "Failed", "Error: "+runErr)
		waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container")
	})

	t.Run("init-crash", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		spec := podSpec(ordinaryImage)
		spec.InitContainers = []corev1.Container{{Name: "init-db", Image: ordinaryImage}, {Name: "init-cache", Image: ordinaryImage}}
		spec.Containers = append(spec.Containers, corev1.Container{Name: "sidecar", Image: ordinaryImage})
		if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{testbed.FaultLabel: testbed.FaultInitCrash}},
			Spec:       spec,
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitPod(t, cs, ns, "p", "Init:CrashLoopBackOff with restartCount 2", func(p *corev1.Pod) bool {
			s := p.Status.InitContainerStatuses
			return len(s) == 2 && s[0].State.Waiting != nil && s[0].State.Waiting.Reason == "CrashLoopBackOff" && s[0].RestartCount >= 2
		})
		c := p.Status.InitContainerStatuses[0]
		if want := fmt.Sprintf("back-off %s restarting failed container=init-db pod=%s", backOff(c.RestartCount), podDesc(p)); c.State.Waiting.Message != want {
			t.Errorf("waiting message %q, want %q", c.State.Waiting.Message, want)
		}
		if last := c.LastTerminationState.Terminated; last == nil || last.ExitCode != 1 || last.Reason != "Error" {
			t.Errorf("lastState.terminated %+v, want exit code 1, Error", last)
		}
		for _, s := range append([]corev1.ContainerStatus{p.Status.InitContainerStatuses[1]}, p.Status.ContainerStatuses...) {
			if s.State.Waiting == nil || s.State.Waiting.Reason != "PodInitializing" || s.Ready {
				t.Errorf("container %s: %+v, want waiting PodInitializing", s.Name, s.State)
			}
		}
		if len(p.Status.ContainerStatuses) != 2 || p.Status.Phase != corev1.PodPending {
			t.Errorf("%d container statuses, phase %s; want 2, Pending", len(p.Status.ContainerStatuses), p.Status.Phase)
		}
		if c := findCondition(p, corev1.PodInitialized); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotInitialized" ||
			c.Message != "containers with incomplete status: [init-db init-cache]" {
			t.Errorf("condition Initialized: %+v", c)
		}
		checkNotReady(t, p, "[web sidecar]")
		waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container")
	})

	t.Run("init-crash by set-image of the init container", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		d, err := cs.AppsV1().Deployments(ns).Create(context.Background(), testutil.Deployment("web",
			testutil.PodSpec(func(s *corev1.PodSpec) {
				s.InitContainers = []corev1.Container{{Name: "migrate", Image: ordinaryImage}}
				s.Containers = []corev1.Container{{Name: "web", Image: ordinaryImage}}
			})), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitRolledOut(t, cs, ns, d.Name)
		bad := testbed.FaultImage(testbed.FaultInitCrash)
		patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"initContainers":[{"name":"migrate","image":%q}]}}}}`, bad)
		if _, err := cs.AppsV1().Deployments(ns).Patch(context.Background(), d.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitPod(t, cs, ns, "", "Init:CrashLoopBackOff", func(p *corev1.Pod) bool {
			s := p.Status.InitContainerStatuses
			return len(s) == 1 && s[0].Image == bad && s[0].State.Waiting != nil && s[0].State.Waiting.Reason == "CrashLoopBackOff"
		})
		if c := p.Status.InitContainerStatuses[0]; c.State.Waiting.Message != fmt.Sprintf("back-off %s restarting failed container=migrate pod=%s", backOff(c.RestartCount), podDesc(p)) {
			t.Errorf("waiting message %q", c.State.Waiting.Message)
		}
		if c := findCondition(p, corev1.PodInitialized); c == nil || c.Status != corev1.ConditionFalse || c.Message != "containers with incomplete status: [migrate]" {
			t.Errorf("condition Initialized: %+v", c)
		}
	})

	t.Run("not-ready", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		createPod(t, cs, ns, "p", map[string]string{testbed.FaultLabel: testbed.FaultNotReady}, ordinaryImage)
		p := waitPod(t, cs, ns, "p", "running", func(p *corev1.Pod) bool {
			c := firstStatus(p)
			return c != nil && c.State.Running != nil
		})
		waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")
		// Still not ready after the probe failed.
		p, err := cs.CoreV1().Pods(ns).Get(context.Background(), "p", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := firstStatus(p)
		if c.State.Running == nil || c.Ready || c.Started == nil || !*c.Started || c.RestartCount != 0 || p.Status.Phase != corev1.PodRunning {
			t.Errorf("status %+v, phase %s; want running, started, not ready, Running", c, p.Status.Phase)
		}
		checkNotReady(t, p, "[web]")
	})

	t.Run("evicted", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		createPod(t, cs, ns, "p", map[string]string{testbed.FaultLabel: testbed.FaultEvicted}, ordinaryImage)
		const msg = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 48236Ki. "
		p := waitPod(t, cs, ns, "p", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
		if p.Status.Reason != "Evicted" || p.Status.Message != msg {
			t.Errorf("reason %q, message %q; want Evicted, %q", p.Status.Reason, p.Status.Message, msg)
		}
		if c := findCondition(p, corev1.DisruptionTarget); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "TerminationByKubelet" || c.Message != msg {
			t.Errorf("condition DisruptionTarget: %+v", c)
		}
		if c := findCondition(p, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "PodFailed" {
			t.Errorf("condition Ready: %+v", c)
		}
		if c := firstStatus(p); c == nil || c.State.Terminated == nil || c.State.Terminated.ExitCode != 137 || c.Ready {
			t.Errorf("container status %+v, want terminated with exit code 137", c)
		}
		waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "Evicted", msg)
	})

	t.Run("prestop-fails", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		spec := podSpec(testbed.NoShellImage)
		spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "5"}}}}
		if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: spec}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitPod(t, cs, ns, "p", "Running and Ready", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && podCondition(p, corev1.PodReady) == corev1.ConditionTrue
		})
		if err := cs.CoreV1().Pods(ns).Delete(context.Background(), "p", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed")
		testutil.Eventually(t, waitTimeout, "the pod to go", func() bool {
			_, err := cs.CoreV1().Pods(ns).Get(context.Background(), "p", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})

	t.Run("slow-start", func(t *testing.T) {
		t.Parallel()
		cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
		// Longer than the delay of a tag that is no duration (8 s).
		const d = 12 * time.Second
		image := testbed.SlowStartImage(d)
		if image != "registry.testbed.invalid/slow-start:12s" {
			t.Errorf("SlowStartImage(%v) = %q", d, image)
		}
		createPod(t, cs, ns, "p", nil, image)
		var starting *corev1.Pod
		p := waitPod(t, cs, ns, "p", "Ready", func(p *corev1.Pod) bool {
			if c := firstStatus(p); starting == nil && c != nil && c.State.Running != nil && !c.Ready {
				starting = p.DeepCopy()
			}
			return podCondition(p, corev1.PodReady) == corev1.ConditionTrue
		})
		if starting == nil {
			t.Fatal("the pod was never running and not ready")
		}
		if c := firstStatus(starting); c.Started == nil || !*c.Started || starting.Status.Phase != corev1.PodRunning || starting.Status.PodIP == "" {
			t.Errorf("while starting: status %+v, phase %s, pod IP %q; want started, Running, an IP", c, starting.Status.Phase, starting.Status.PodIP)
		}
		checkNotReady(t, starting, "[web]")
		c := firstStatus(p)
		if c.State.Running == nil || !c.Ready || c.RestartCount != 0 || c.ContainerID != firstStatus(starting).ContainerID ||
			!c.State.Running.StartedAt.Equal(&firstStatus(starting).State.Running.StartedAt) {
			t.Errorf("ready: status %+v; want the same container running since it started, ready, no restart", c)
		}
		// Timestamps have whole seconds.
		took := findCondition(p, corev1.PodReady).LastTransitionTime.Sub(c.State.Running.StartedAt.Time)
		if took < d-time.Second || took > d+15*time.Second {
			t.Errorf("ready %v after the start, want about %v", took, d)
		}
		waitEvent(t, cs, ns, p, corev1.EventTypeNormal, "Started", "Container started")
	})

	for _, fault := range []string{testbed.FaultSlowPull, testbed.FaultPullThenRun} {
		t.Run(fault+" recovers", func(t *testing.T) {
			t.Parallel()
			cs, ns := testbed.Clientset(t), testbed.NewNamespace(t)
			image := testbed.FaultImage(fault)
			createPod(t, cs, ns, "p", nil, image)
			waiting := map[string]bool{}
			p := waitPod(t, cs, ns, "p", "Running and Ready", func(p *corev1.Pod) bool {
				if c := firstStatus(p); c != nil && c.State.Waiting != nil {
					waiting[c.State.Waiting.Reason] = true
					if p.Status.Phase != corev1.PodPending || c.Ready {
						t.Errorf("waiting %s in phase %s, ready %v", c.State.Waiting.Reason, p.Status.Phase, c.Ready)
					}
				}
				return p.Status.Phase == corev1.PodRunning && podCondition(p, corev1.PodReady) == corev1.ConditionTrue
			})
			want := map[string]bool{"ContainerCreating": true}
			if fault == testbed.FaultPullThenRun {
				want = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true}
			}
			if fmt.Sprint(waiting) != fmt.Sprint(want) {
				t.Errorf("waiting reasons seen %v, want %v", waiting, want)
			}
			if c := firstStatus(p); c.State.Running == nil || !c.Ready || c.RestartCount != 0 || podCondition(p, corev1.ContainersReady) != corev1.ConditionTrue {
				t.Errorf("status %+v; want running, ready, no restart", c)
			}
			if fault == testbed.FaultSlowPull {
				waitEvent(t, cs, ns, p, corev1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", image))
			} else {
				waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %s", image, pullErr(image)))
			}
			waitEvent(t, cs, ns, p, corev1.EventTypeNormal, "Pulled",
				fmt.Sprintf("Successfully pulled image %q in 8s (8s including waiting). Image size: 4718592 bytes.", image))
		})
	}
}

// checkImagePull waits until the pod has been both ErrImagePull and
// ImagePullBackOff, and checks both and the events.
func checkImagePull(t *testing.T, cs kubernetes.Interface, ns, name, image, failedEvent string) {
	t.Helper()
	seen := map[string]corev1.ContainerStatus{}
	p := waitPod(t, cs, ns, name, "ErrImagePull and ImagePullBackOff", func(p *corev1.Pod) bool {
		if c := firstStatus(p); c != nil && c.State.Waiting != nil {
			seen[c.State.Waiting.Reason] = *c
		}
		_, pull := seen["ErrImagePull"]
		_, backOff := seen["ImagePullBackOff"]
		return pull && backOff
	})
	for reason, want := range map[string]string{
		"ErrImagePull":     pullErr(image),
		"ImagePullBackOff": fmt.Sprintf("Back-off pulling image %q: ErrImagePull: %s", image, pullErr(image)),
	} {
		c := seen[reason]
		if c.State.Waiting.Message != want {
			t.Errorf("%s message %q, want %q", reason, c.State.Waiting.Message, want)
		}
		if c.Ready || c.RestartCount != 0 || c.Image != image || c.ImageID != "" || c.ContainerID != "" {
			t.Errorf("%s status %+v: want not ready, no restart, image %s, no image or container id", reason, c, image)
		}
	}
	if p.Status.Phase != corev1.PodPending || p.Status.PodIP == "" || p.Status.StartTime == nil {
		t.Errorf("phase %s, pod IP %q, start time %v; want Pending with an IP and a start time", p.Status.Phase, p.Status.PodIP, p.Status.StartTime)
	}
	checkNotReady(t, p, "[web]")
	waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "Failed", failedEvent)
	waitEvent(t, cs, ns, p, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
}

// checkNotReady checks the conditions of a scheduled pod whose containers
// named in list are not ready.
func checkNotReady(t *testing.T, p *corev1.Pod, list string) {
	t.Helper()
	want := "containers with unready status: " + list
	for _, typ := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		c := findCondition(p, typ)
		if c == nil || c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" || c.Message != want || c.LastTransitionTime.IsZero() {
			t.Errorf("condition %s: %+v; want False, ContainersNotReady, %q", typ, c, want)
		}
	}
	for _, typ := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReadyToStartContainers} {
		if podCondition(p, typ) != corev1.ConditionTrue {
			t.Errorf("condition %s not True: %+v", typ, p.Status.Conditions)
		}
	}
}

func firstStatus(p *corev1.Pod) *corev1.ContainerStatus {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return &p.Status.ContainerStatuses[0]
}

func findCondition(p *corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func podCondition(p *corev1.Pod, typ corev1.PodConditionType) corev1.ConditionStatus {
	if c := findCondition(p, typ); c != nil {
		return c.Status
	}
	return ""
}

func podSpec(image string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}}
}

func createPod(t *testing.T, cs kubernetes.Interface, ns, name string, labels map[string]string, image string) {
	t.Helper()
	_, err := cs.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       podSpec(image),
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func createDeployment(t *testing.T, cs kubernetes.Interface, ns, name string, labels map[string]string, image string, replicas int32) *appsv1.Deployment {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Create(context.Background(), testutil.Deployment(name, testutil.Replicas(replicas),
		testutil.Labels(labels), testutil.PodSpec(func(s *corev1.PodSpec) { *s = podSpec(image) })), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func setImage(t *testing.T, cs kubernetes.Interface, ns, name, image string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":%q}]}}}}`, image)
	if _, err := cs.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitRolledOut(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	waitDeployment(t, cs, ns, name, "rolled out", func(d *appsv1.Deployment) bool {
		return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == *d.Spec.Replicas &&
			d.Status.AvailableReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas
	})
}

// waitTimeout is generous: two shared cores run several clusters at once.
const waitTimeout = 2 * time.Minute

// until watches list's objects (after listing them) until cond holds for one
// of them, and returns it; on timeout the test fails with the last one seen.
func until[T runtime.Object](t *testing.T, what string, lw cache.ListerWatcher, objType T, cond func(T) bool) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var last T
	ev, err := watchtools.UntilWithSync(ctx, lw, objType, nil, func(e watch.Event) (bool, error) {
		o, ok := e.Object.(T)
		if !ok || e.Type == watch.Deleted {
			return false, nil
		}
		last = o
		return cond(o), nil
	})
	if err != nil {
		raw, _ := json.MarshalIndent(last, "", "  ")
		t.Fatalf("waiting for %s: %v; last seen:\n%s", what, err, raw)
	}
	return ev.Object.(T)
}

// waitPod waits for a pod of ns (the one named name, or any if name is "")
// for which cond holds.
func waitPod(t *testing.T, cs kubernetes.Interface, ns, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	sel := fields.Everything()
	if name != "" {
		sel = fields.OneTermEqualSelector("metadata.name", name)
	}
	lw := cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "pods", ns, sel)
	return until(t, fmt.Sprintf("pod %s/%s %s", ns, name, what), lw, &corev1.Pod{}, cond)
}

func waitDeployment(t *testing.T, cs kubernetes.Interface, ns, name, what string, cond func(*appsv1.Deployment) bool) {
	t.Helper()
	lw := cache.NewListWatchFromClient(cs.AppsV1().RESTClient(), "deployments", ns, fields.OneTermEqualSelector("metadata.name", name))
	until(t, fmt.Sprintf("deployment %s/%s %s", ns, name, what), lw, &appsv1.Deployment{}, cond)
}

// waitEvent waits for an event about the pod with the type, reason and
// message given.
func waitEvent(t *testing.T, cs kubernetes.Interface, ns string, p *corev1.Pod, typ, reason, message string) *corev1.Event {
	t.Helper()
	lw := cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "events", ns, fields.OneTermEqualSelector("involvedObject.uid", string(p.UID)))
	return until(t, fmt.Sprintf("event %s %s %q about pod %s", typ, reason, message, p.Name), lw, &corev1.Event{}, func(e *corev1.Event) bool {
		return e.Type == typ && e.Reason == reason && e.Message == message && e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == p.Name
	})
}
