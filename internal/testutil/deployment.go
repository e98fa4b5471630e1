package testutil

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PauseImage is the image of the test bed's pods: kwok runs none of them,
// and a real kubelet could pull it.
const PauseImage = "registry.k8s.io/pause:3.10"

// DeploymentOption changes a Deployment that Deployment builds.
type DeploymentOption func(*appsv1.Deployment)

// Deployment builds Deployment name: one replica, selector and pod labels
// app=name, one container "app" running PauseImage; opts change it in
// order. It is what an API server accepts to create; Observed makes it one
// the controller has rolled out.
func Deployment(name string, opts ...DeploymentOption) *appsv1.Deployment {
	replicas := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: PauseImage}}},
			},
		},
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Namespace puts the Deployment in ns.
func Namespace(ns string) DeploymentOption {
	return func(d *appsv1.Deployment) { d.Namespace = ns }
}

// Replicas sets spec.replicas (and, after Observed, the status counts).
func Replicas(n int32) DeploymentOption {
	return func(d *appsv1.Deployment) {
		d.Spec.Replicas = &n
		if d.Status.ObservedGeneration != 0 {
			setRolledOut(d)
		}
	}
}

// Labels adds labels to the pod template; the selector stays app=name.
func Labels(labels map[string]string) DeploymentOption {
	return func(d *appsv1.Deployment) {
		for k, v := range labels {
			d.Spec.Template.Labels[k] = v
		}
	}
}

// Image sets the image of the first container.
func Image(image string) DeploymentOption {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image }
}

// Containers replaces the pod's containers.
func Containers(cs ...corev1.Container) DeploymentOption {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers = cs }
}

// Strategy sets the rollout strategy.
func Strategy(s appsv1.DeploymentStrategy) DeploymentOption {
	return func(d *appsv1.Deployment) { d.Spec.Strategy = s }
}

// PodSpec lets edit change the pod spec; a nil edit changes nothing.
func PodSpec(edit func(*corev1.PodSpec)) DeploymentOption {
	return func(d *appsv1.Deployment) {
		if edit != nil {
			edit(&d.Spec.Template.Spec)
		}
	}
}

// Edit lets edit change anything; a nil edit changes nothing.
func Edit(edit func(*appsv1.Deployment)) DeploymentOption {
	return func(d *appsv1.Deployment) {
		if edit != nil {
			edit(d)
		}
	}
}

// Observed makes the Deployment one the controller has rolled out at
// generation: UID "uid-" + name, every replica updated, ready and
// available, and Progressing True with reason NewReplicaSetAvailable.
func Observed(generation int64) DeploymentOption {
	return func(d *appsv1.Deployment) {
		d.UID = types.UID("uid-" + d.Name)
		d.Generation = generation
		d.Status.ObservedGeneration = generation
		d.Status.Conditions = []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
		}}
		setRolledOut(d)
	}
}

func setRolledOut(d *appsv1.Deployment) {
	n := *d.Spec.Replicas
	d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = n, n, n, n
}
