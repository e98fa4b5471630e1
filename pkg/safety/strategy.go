package safety

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// defaultBudget is what the API server sets an unset maxSurge or
// maxUnavailable to (apps/v1 defaults).
var defaultBudget = intstr.FromString("25%")

// Replicas is the Deployment's desired pod count: spec.replicas, or 1 when it
// is unset, as the API server defaults it.
func Replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// IsRecreate says whether the Deployment stops its old pods before it starts
// new ones. An unset strategy type is RollingUpdate, the API default.
func IsRecreate(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType
}

// Fenceposts resolves a RollingUpdate Deployment's maxSurge and
// maxUnavailable to pod counts exactly as the deployment controller does
// (ResolveFenceposts in k8s.io/kubernetes/pkg/controller/deployment/util):
// a percentage of the desired replicas, maxSurge rounded up and
// maxUnavailable rounded down, and when both come to 0, maxUnavailable 1
// ("surge might not work due to quota"). Unset values are the API's default,
// 25%, so a manifest not yet defaulted by the API server resolves as it will
// once applied. The error names a value the API server would refuse.
func Fenceposts(d *appsv1.Deployment) (surge, unavailable int32, err error) {
	r, err := resolve(d)
	return r.surge, r.unavailable, err
}

// resolved are a Deployment's fenceposts and what they came from.
type resolved struct {
	maxSurge, maxUnavailable intstr.IntOrString
	surge, unavailable       int32
	// raised: both came to 0 and the controller took maxUnavailable 1.
	raised bool
}

func resolve(d *appsv1.Deployment) (resolved, error) {
	r := resolved{maxSurge: defaultBudget, maxUnavailable: defaultBudget}
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			r.maxSurge = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			r.maxUnavailable = *ru.MaxUnavailable
		}
	}
	desired := int(Replicas(d))
	s, err := scaled("maxSurge", r.maxSurge, desired, true)
	if err != nil {
		return resolved{}, err
	}
	u, err := scaled("maxUnavailable", r.maxUnavailable, desired, false)
	if err != nil {
		return resolved{}, err
	}
	if r.maxUnavailable.Type == intstr.String && percent(r.maxUnavailable) > 100 {
		return resolved{}, fmt.Errorf("spec.strategy.rollingUpdate.maxUnavailable %s is more than 100%%, which the API server refuses", r.maxUnavailable.String())
	}
	// The API server refuses both written as zero (0 or "0%"); rounding
	// can still take both to zero, which the controller turns into 1.
	if isZero(r.maxSurge) && isZero(r.maxUnavailable) {
		return resolved{}, fmt.Errorf("spec.strategy.rollingUpdate.maxSurge and maxUnavailable are both 0, which the API server refuses: set maxSurge: 1")
	}
	if s == 0 && u == 0 {
		u, r.raised = 1, true
	}
	r.surge, r.unavailable = int32(s), int32(u)
	return r, nil
}

// MaxUnavailable is how many of the desired pods a rollout may take out of
// service at once, as the deployment controller computes it: the resolved
// maxUnavailable, at most the replicas; 0 for Recreate, for 0 replicas and
// for values the API server would refuse. Recreate takes them all, which
// IsRecreate says.
func MaxUnavailable(d *appsv1.Deployment) int32 {
	replicas := Replicas(d)
	if IsRecreate(d) || replicas == 0 {
		return 0
	}
	_, u, err := Fenceposts(d)
	if err != nil {
		return 0
	}
	return min(u, replicas)
}

// scaled is intstr.GetScaledValueFromIntOrPercent, as the controller calls
// it, with the errors the API server's validation would give.
func scaled(field string, v intstr.IntOrString, total int, roundUp bool) (int, error) {
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, total, roundUp)
	if err != nil {
		return 0, fmt.Errorf("spec.strategy.rollingUpdate.%s %q is neither a whole number nor a percentage such as 25%%: %w", field, v.String(), err)
	}
	if n < 0 || (v.Type == intstr.String && percent(v) < 0) {
		return 0, fmt.Errorf("spec.strategy.rollingUpdate.%s %s is negative, which the API server refuses", field, v.String())
	}
	return n, nil
}

// percent is a valid percentage's number ("25%" is 25).
func percent(v intstr.IntOrString) int {
	n, _ := intstr.GetScaledValueFromIntOrPercent(&v, 100, false)
	return n
}

func isZero(v intstr.IntOrString) bool {
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	return percent(v) == 0
}
