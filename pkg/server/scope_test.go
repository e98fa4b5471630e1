package server

import (
	"context"
	"slices"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestCheckClusterWatch(t *testing.T) {
	for _, tt := range []struct {
		name       string
		allowed    func(*authorizationv1.ResourceAttributes) bool
		diagnose   bool
		missing    []string
		namespaces bool
	}{
		{"everything", func(*authorizationv1.ResourceAttributes) bool { return true }, true, nil, true},
		{"namespaced only", func(a *authorizationv1.ResourceAttributes) bool { return a.Namespace != "" }, true,
			[]string{"list deployments", "watch deployments", "list replicasets", "watch replicasets", "list pods", "watch pods", "list events", "watch events",
				"list services", "watch services", "list endpointslices", "watch endpointslices",
				"list poddisruptionbudgets", "watch poddisruptionbudgets"}, false},
		{"no endpointslices", func(a *authorizationv1.ResourceAttributes) bool {
			return a.Resource != "endpointslices" || a.Group != "discovery.k8s.io"
		}, true, []string{"list endpointslices", "watch endpointslices"}, true},
		{"no pods", func(a *authorizationv1.ResourceAttributes) bool { return a.Resource != "pods" }, true, []string{"list pods", "watch pods"}, true},
		{"no pods, no diagnosis", func(a *authorizationv1.ResourceAttributes) bool { return a.Resource != "pods" }, false, nil, true},
		{"no namespace watch", func(a *authorizationv1.ResourceAttributes) bool {
			return a.Resource != "namespaces" || a.Verb == "list"
		}, true, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
				review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
				review.Status.Allowed = tt.allowed(review.Spec.ResourceAttributes)
				return true, review, nil
			})
			got, err := CheckClusterWatch(context.Background(), client.AuthorizationV1(), tt.diagnose)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Missing, tt.missing) || got.Namespaces != tt.namespaces {
				t.Fatalf("got %+v, want missing %v and namespaces %v", got, tt.missing, tt.namespaces)
			}
		})
	}
}
