package tracker

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Strip is the informer transform: it keeps only what a summary reads, so a
// cluster with thousands of Deployments costs little memory. Managed fields,
// annotations, labels and all of the pod template but container names and
// images are dropped before the object enters the cache.
func Strip(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil // a DeletedFinalStateUnknown tombstone: leave as is
	}
	out := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:              d.Name,
			Namespace:         d.Namespace,
			UID:               d.UID,
			ResourceVersion:   d.ResourceVersion,
			Generation:        d.Generation,
			DeletionTimestamp: d.DeletionTimestamp,
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: d.Spec.Replicas,
			Paused:   d.Spec.Paused,
		},
		Status: d.Status,
	}
	if len(d.Spec.Template.Spec.Containers) > 0 {
		cs := make([]corev1.Container, len(d.Spec.Template.Spec.Containers))
		for i, c := range d.Spec.Template.Spec.Containers {
			cs[i] = corev1.Container{Name: c.Name, Image: c.Image}
		}
		out.Spec.Template.Spec.Containers = cs
	}
	conds := d.Status.Conditions
	if len(conds) > 0 {
		out.Status.Conditions = make([]appsv1.DeploymentCondition, len(conds))
		for i, c := range conds {
			// Timestamps change on every controller heartbeat and are never shown.
			out.Status.Conditions[i] = appsv1.DeploymentCondition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message}
		}
	}
	return out, nil
}
