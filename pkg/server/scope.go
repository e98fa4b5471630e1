package server

import (
	"context"
	"fmt"

	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// Watch scopes of serve (--watch-scope).
const (
	// ScopeAuto watches cluster-wide when the identity may and no
	// --namespaces narrows what is served, else per namespace.
	ScopeAuto = "auto"
	// ScopeCluster watches cluster-wide, or refuses to start.
	ScopeCluster = "cluster"
	// ScopeNamespace watches each viewed namespace on its own.
	ScopeNamespace = "namespace"
)

// resource is one resource serve's trackers read.
type resource struct{ group, name string }

// ClusterWatch is what the server's identity may read in every namespace,
// as SelfSubjectAccessReviews tell.
type ClusterWatch struct {
	// Missing names what it may not list and watch cluster-wide, e.g.
	// "watch pods"; empty when the trackers may run cluster-wide.
	Missing []string
	// Namespaces says whether it may also list and watch the namespaces
	// themselves.
	Namespaces bool
}

// CheckClusterWatch asks the API server whether the identity of client may
// list and watch Deployments (and with diagnose ReplicaSets, Pods, Events,
// serving's Services and EndpointSlices, and the warnings'
// PodDisruptionBudgets) in all namespaces, and the
// namespaces themselves: one review per verb and resource, at start.
func CheckClusterWatch(ctx context.Context, client authorizationv1client.SelfSubjectAccessReviewsGetter, diagnose bool) (ClusterWatch, error) {
	need := []resource{{"apps", "deployments"}}
	if diagnose {
		need = append(need, resource{"apps", "replicasets"}, resource{"", "pods"}, resource{"", "events"},
			resource{"", "services"}, resource{"discovery.k8s.io", "endpointslices"}, resource{"policy", "poddisruptionbudgets"})
	}
	may := func(r resource, verb string) (bool, error) {
		allowed, err := auth.SelfAllowed(ctx, client, auth.Access{Verb: verb, Group: r.group, Resource: r.name})
		if err != nil {
			return false, fmt.Errorf("asking whether this identity may %s %s in all namespaces: %w", verb, r.name, err)
		}
		return allowed, nil
	}
	var out ClusterWatch
	for _, r := range need {
		for _, verb := range []string{"list", "watch"} {
			ok, err := may(r, verb)
			if err != nil {
				return out, err
			}
			if !ok {
				out.Missing = append(out.Missing, verb+" "+r.name)
			}
		}
	}
	out.Namespaces = true
	for _, verb := range []string{"list", "watch"} {
		ok, err := may(resource{"", "namespaces"}, verb)
		if err != nil {
			return out, err
		}
		out.Namespaces = out.Namespaces && ok
	}
	return out, nil
}
