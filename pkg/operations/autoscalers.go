package operations

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	autoscalingv2client "k8s.io/client-go/kubernetes/typed/autoscaling/v2"
)

// Autoscaler is a HorizontalPodAutoscaler that sets a workload's replicas:
// a scale by hand lasts only until its next sync.
type Autoscaler struct {
	Name        string `json:"name"`
	MinReplicas int32  `json:"minReplicas"`
	MaxReplicas int32  `json:"maxReplicas"`
}

// Autoscalers returns the HorizontalPodAutoscalers of namespace whose
// scaleTargetRef is the workload of kind and name, sorted by name. Callers use it for a
// warning only: an error (RBAC may not let the user list HPAs) means "cannot
// tell", never a reason to refuse a change.
func Autoscalers(ctx context.Context, client autoscalingv2client.HorizontalPodAutoscalersGetter, namespace string, kind Kind, name string) ([]Autoscaler, error) {
	list, err := client.HorizontalPodAutoscalers(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []Autoscaler
	for _, h := range list.Items {
		ref := h.Spec.ScaleTargetRef
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		// extensions/v1beta1 served Deployments and DaemonSets, never StatefulSets.
		if err != nil || ref.Kind != kind.String() || ref.Name != name || (gv.Group != "apps" && (gv.Group != "extensions" || kind == StatefulSet)) {
			continue
		}
		a := Autoscaler{Name: h.Name, MinReplicas: 1, MaxReplicas: h.Spec.MaxReplicas}
		if h.Spec.MinReplicas != nil {
			a.MinReplicas = *h.Spec.MinReplicas
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// AutoscalerWarning is the one line that tells a user scaling the workload
// of kind and name by hand that as fixes its replicas: what they are, that
// the change will be undone, and what to change instead. It is "" without
// autoscalers.
func AutoscalerWarning(namespace string, kind Kind, name string, as []Autoscaler) string {
	if len(as) == 0 {
		return ""
	}
	return fmt.Sprintf("%s targets %s %q in namespace %q and will undo this change of its replicas; change the HorizontalPodAutoscaler's minReplicas and maxReplicas instead, e.g. 'kubectl patch hpa %s -n %s -p {\"spec\":{\"minReplicas\":N}}'",
		DescribeAutoscalers(as), kind.Noun(), name, namespace, as[0].Name, namespace)
}

// DescribeAutoscalers names them with their bounds:
// HorizontalPodAutoscaler "web" (min 2, max 10 replicas).
func DescribeAutoscalers(as []Autoscaler) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%q (min %d, max %d replicas)", a.Name, a.MinReplicas, a.MaxReplicas)
	}
	noun := "HorizontalPodAutoscaler "
	if len(as) > 1 {
		noun = "HorizontalPodAutoscalers "
	}
	return noun + strings.Join(parts, " and ")
}

// NoteAutoscalers fills res.Autoscalers and res.Warning for a scale that
// changes (or, in a dry run, would change) the replicas of a workload an
// autoscaler sets. When the autoscalers cannot be read (RBAC), it leaves
// both empty: no warning, and no failure.
func NoteAutoscalers(ctx context.Context, client autoscalingv2client.HorizontalPodAutoscalersGetter, res *Result) {
	if !res.Changed {
		return
	}
	as, err := Autoscalers(ctx, client, res.Namespace, res.Kind, res.Name)
	if err != nil || len(as) == 0 {
		return
	}
	res.Autoscalers = as
	res.Warning = AutoscalerWarning(res.Namespace, res.Kind, res.Name, as)
}
