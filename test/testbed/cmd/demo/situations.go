package main

import (
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// A situation is one Deployment of the demo namespace and what it shows.
// Adding one is an entry in situations: the Deployment as first made, an
// optional change once it has rolled out (a rollout to a new image), any
// objects it needs first, and what the cluster shows once it is there.
type situation struct {
	// what a user sees, for the printed list.
	what string
	// before are made first (a quota); the demo waits until the quota
	// controller has counted a ResourceQuota, so that the pods meet a quota
	// in force. create in main.go makes them, kind by kind.
	before []runtime.Object
	// deployment is made next; its name names the situation.
	deployment *appsv1.Deployment
	// rollout, if set, changes the Deployment once it has rolled out: the
	// situation is a rollout from a working revision.
	rollout func(*appsv1.Deployment)
	// shows says whether the namespace shows the situation yet.
	shows func(v *view, name string) bool
}

// Images. The test bed runs no containers: an image is only a name, and the
// test bed's kubelet (kwok) makes the pods of its special images start
// slowly or fail (see package testbed). registry.example never resolves
// (RFC 2606).
var (
	apiSlow      = testbed.SlowStartImage(40 * time.Second)
	cartBroken   = testbed.FaultImage(testbed.FaultImagePull)
	checkoutSlow = testbed.SlowStartImage(10 * time.Minute)
)

var situations = []situation{
	{
		what:       "healthy: 3 replicas, all available",
		deployment: deployment("web", "registry.example/shop/web:1.4.2", 3),
		shows:      rolledOut,
	},
	{
		what:       "a rollout in progress, one pod at a time: each new pod takes 40 s to become ready",
		deployment: deployment("api", "registry.example/shop/api:2.0.1", 5, oneAtATime),
		rollout:    setImage(apiSlow),
		shows:      newPodStarting(apiSlow),
	},
	{
		what:       "a rollout to an image that cannot be pulled; the old pods still serve",
		deployment: deployment("cart", "registry.example/shop/cart:3.2.0", 3),
		rollout:    setImage(cartBroken),
		shows:      podWaiting("ErrImagePull", "ImagePullBackOff"),
	},
	{
		what:       "a crash loop: the container exits with code 1, again and again",
		deployment: deployment("worker", testbed.FaultImage(testbed.FaultCrashLoop), 2),
		shows:      restarted,
	},
	{
		what:       "a pod no node takes: its node selector matches no node",
		deployment: deployment("trainer", "registry.example/ml/trainer:0.9.0", 1, nodeSelector("node.example/pool", "gpu")),
		shows:      unschedulable,
	},
	{
		what:       "a quota that refuses pods: the namespace's CPU quota has room for 2 of its 3",
		before:     []runtime.Object{cpuQuota("compute", "500m")},
		deployment: deployment("reports", "registry.example/shop/reports:1.1.0", 3, cpuRequest("200m")),
		shows:      createRefused,
	},
	{
		what:       "a rollout that leaves its Service no ready pod: 1 replica, maxSurge 0, and the new pod takes 10 min to become ready",
		before:     []runtime.Object{service("checkout")},
		deployment: deployment("checkout", "registry.example/shop/checkout:5.0.0", 1, stopFirst),
		rollout:    setImage(checkoutSlow),
		shows:      newPodStarting(checkoutSlow),
	},
}

// deployment is a Deployment of one container named after it.
func deployment(name, image string, replicas int32, edits ...func(*appsv1.Deployment)) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: image}}},
			},
		},
	}
	for _, edit := range edits {
		edit(d)
	}
	return d
}

// rollingUpdate sets a rolling update of at most surge pods above and
// unavailable below the desired count.
func rollingUpdate(surge, unavailable int32) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		s, u := intstr.FromInt32(surge), intstr.FromInt32(unavailable)
		d.Spec.Strategy = appsv1.DeploymentStrategy{
			Type:          appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u},
		}
	}
}

var (
	// oneAtATime rolls out one new pod at a time and keeps every old one
	// until its replacement is ready.
	oneAtATime = rollingUpdate(1, 0)
	// stopFirst is the rolling update that drops requests with one
	// replica: the old pod goes before the new one is ready.
	stopFirst = rollingUpdate(0, 1)
)

// service selects the pods of the Deployment of that name.
func service(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

func nodeSelector(key, value string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.NodeSelector = map[string]string{key: value} }
}

func cpuRequest(cpu string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
}

func setImage(image string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image }
}

// cpuQuota limits the CPU that pods with resource requests may request
// (scope NotBestEffort), so that the other situations' pods, which request
// nothing, are not counted.
func cpuQuota(name, cpu string) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ResourceQuotaSpec{
			Hard:   corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse(cpu)},
			Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort},
		},
	}
}

// view is the demo namespace at one moment.
type view struct {
	deployments []appsv1.Deployment
	replicaSets []appsv1.ReplicaSet
	pods        []corev1.Pod
}

func (v *view) deployment(name string) *appsv1.Deployment {
	for i := range v.deployments {
		if v.deployments[i].Name == name {
			return &v.deployments[i]
		}
	}
	return nil
}

// podsOf are the pods of the Deployment name (label app=name).
func (v *view) podsOf(name string) []corev1.Pod {
	var pods []corev1.Pod
	for _, p := range v.pods {
		if p.Labels["app"] == name && p.DeletionTimestamp == nil {
			pods = append(pods, p)
		}
	}
	return pods
}

func rolledOut(v *view, name string) bool {
	d := v.deployment(name)
	if d == nil {
		return false
	}
	s, want := d.Status, *d.Spec.Replicas
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.AvailableReplicas == want && s.Replicas == want
}

// newPodStarting: a pod of the new image runs and is not ready yet.
func newPodStarting(image string) func(*view, string) bool {
	return func(v *view, name string) bool {
		for _, p := range v.podsOf(name) {
			for _, c := range p.Status.ContainerStatuses {
				if c.Image == image && c.State.Running != nil && !c.Ready {
					return true
				}
			}
		}
		return false
	}
}

func podWaiting(reasons ...string) func(*view, string) bool {
	return func(v *view, name string) bool {
		for _, p := range v.podsOf(name) {
			for _, c := range p.Status.ContainerStatuses {
				if c.State.Waiting != nil && slices.Contains(reasons, c.State.Waiting.Reason) {
					return true
				}
			}
		}
		return false
	}
}

// restarted: a container has exited and been started again.
func restarted(v *view, name string) bool {
	for _, p := range v.podsOf(name) {
		for _, c := range p.Status.ContainerStatuses {
			if c.RestartCount > 0 {
				return true
			}
		}
	}
	return false
}

func unschedulable(v *view, name string) bool {
	for _, p := range v.podsOf(name) {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true
			}
		}
	}
	return false
}

// createRefused: the ReplicaSet controller could not create a pod.
func createRefused(v *view, name string) bool {
	for _, rs := range v.replicaSets {
		if rs.Labels["app"] != name {
			continue
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				return true
			}
		}
	}
	return false
}
