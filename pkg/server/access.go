package server

import (
	"net/http"
	"strconv"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// may checks, in AuthKubernetes mode, that the request's user may do every
// one of as: 403 naming the first that is refused, 503 when the API server
// cannot be asked. In token mode everyone who has the token may.
func (s *Server) may(r *http.Request, as ...auth.Access) *apiError {
	if s.kube == nil {
		return nil
	}
	user, e := userOf(r)
	if e != nil {
		return e
	}
	for _, a := range as {
		ok, err := s.kube.Allowed(r.Context(), user, a)
		if err != nil {
			return fromError(err)
		}
		if !ok {
			res := a.Resource
			if a.Subresource != "" {
				res += "/" + a.Subresource
			}
			what := res
			if a.Name != "" {
				what += " " + strconv.Quote(a.Name)
			}
			return errorf(http.StatusForbidden, "Forbidden", "user %q may not %s %s in namespace %q; ask for a Role that allows it (kubectl auth can-i %s %s -n %s --as %s)",
				user.Username, a.Verb, what, a.Namespace, a.Verb, res, a.Namespace, user.Username)
		}
	}
	return nil
}

// actingClient is the client a request's changes and own reads go
// through: in AuthKubernetes mode the server's, impersonating the user
// (so the API server authorizes and audits the user), else the server's.
func (s *Server) actingClient(r *http.Request) (kubernetes.Interface, *apiError) {
	if s.kube == nil {
		return s.opts.Client, nil
	}
	user, e := userOf(r)
	if e != nil {
		return nil, e
	}
	c, err := s.kube.Impersonate(user)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "InternalError", "cannot act as user %q: %v", user.Username, err)
	}
	return c, nil
}

// userOf is the user an AuthKubernetes request was authenticated as.
func userOf(r *http.Request) (authenticationv1.UserInfo, *apiError) {
	user, ok := auth.UserOf(r)
	if !ok {
		return user, errorf(http.StatusUnauthorized, "Unauthorized", "the API needs your Kubernetes token: 'Authorization: Bearer <token>'")
	}
	return user, nil
}

// What each endpoint needs of the user in AuthKubernetes mode (the API
// server checks the rest, e.g. get, as the impersonated user).

// diagnosisAccess is what seeing a Deployment's diagnosis (its problems,
// and the message that words them) needs of the user: serve reads it from
// the namespace's Pods and Events.
func diagnosisAccess(ns string) []auth.Access {
	return []auth.Access{
		{Namespace: ns, Verb: "list", Resource: "pods"},
		{Namespace: ns, Verb: "list", Resource: "events"},
	}
}

// seesDiagnosis reports whether the request's user may see the diagnosis
// in namespace ns: in token mode everyone who has the token; in
// AuthKubernetes mode who may list its Pods and Events. A question the API
// server could not answer counts as no: closed by default.
func (s *Server) seesDiagnosis(r *http.Request, ns string) bool {
	return s.may(r, diagnosisAccess(ns)...) == nil
}

// userView is what a user may see of a namespace's workloads beyond the
// Deployments: the zero value is everything (token mode).
type userView struct {
	// withoutDiagnosis: the user may not list the namespace's Pods and
	// Events, so the summaries go without what was read from them.
	withoutDiagnosis bool
	// mayList reports whether the user may list a kind other than
	// Deployments there (AuthKubernetes); nil: every kind. Asked only of
	// the kinds a message carries, so a namespace without them costs no
	// review, and answered from the reviews' cache after the first.
	mayList func(kind string) bool
}

// viewOf is what the request's user may see in namespace ns: in token mode
// everything; in AuthKubernetes mode the diagnosis where they may list
// Pods and Events, and a StatefulSet or DaemonSet where they may list that
// kind. A question the API server could not answer counts as no.
func (s *Server) viewOf(r *http.Request, ns string) userView {
	v := userView{withoutDiagnosis: !s.seesDiagnosis(r, ns)}
	if s.kube != nil {
		v.mayList = func(kind string) bool {
			return s.may(r, auth.Access{Namespace: ns, Verb: "list", Group: "apps", Resource: strings.ToLower(kind) + "s"}) == nil
		}
	}
	return v
}

// hides reports whether v leaves out the rows of kind.
// all reports whether v shows every event as it is.
func (v userView) all() bool { return !v.withoutDiagnosis && v.mayList == nil }

func (v userView) hides(kind string) bool {
	return v.mayList != nil && kind != deployment.KindDeployment && kind != "" && !v.mayList(kind)
}

// named is as with the name of the one workload a request is about on
// each question about a workload (get, update, patch): RBAC may allow them
// for that name only. Lists ask about no name.
func named(as []auth.Access, name string) []auth.Access {
	out := make([]auth.Access, len(as))
	for i, a := range as {
		if workloadResource(a.Resource) && a.Verb != "list" && a.Verb != "watch" {
			a.Name = name
		}
		out[i] = a
	}
	return out
}

// workloadResource reports whether resource is one of the kinds' own.
func workloadResource(resource string) bool {
	for _, k := range kinds {
		if resource == k.Resource() {
			return true
		}
	}
	return false
}

// readAccess is what watching a namespace's Deployments needs.
func readAccess(ns string) []auth.Access {
	return []auth.Access{
		{Namespace: ns, Verb: "list", Group: "apps", Resource: "deployments"},
		{Namespace: ns, Verb: "watch", Group: "apps", Resource: "deployments"},
	}
}

func scaleAccess(ns string, k operations.Kind) []auth.Access {
	return []auth.Access{{Namespace: ns, Verb: "update", Group: "apps", Resource: k.Resource(), Subresource: "scale"}}
}

func patchAccess(ns string, k operations.Kind) []auth.Access {
	return []auth.Access{{Namespace: ns, Verb: "patch", Group: "apps", Resource: k.Resource()}}
}

// revisionsResource is where a kind's revisions are kept: a Deployment's
// in its ReplicaSets, the others' in ControllerRevisions.
func revisionsResource(k operations.Kind) string {
	if k == operations.Deployment {
		return "replicasets"
	}
	return "controllerrevisions"
}

// historyAccess is what a workload's revisions need of the user: the
// workload and the objects its revisions are kept in.
func historyAccess(ns string, k operations.Kind) []auth.Access {
	return []auth.Access{
		{Namespace: ns, Verb: "get", Group: "apps", Resource: k.Resource()},
		{Namespace: ns, Verb: "list", Group: "apps", Resource: revisionsResource(k)},
	}
}

// undoAccess: the patch, and the revisions it reads the template from.
func undoAccess(ns string, k operations.Kind) []auth.Access {
	return append(patchAccess(ns, k), auth.Access{Namespace: ns, Verb: "list", Group: "apps", Resource: revisionsResource(k)})
}
