package auth

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
)

// Access is what a request asks to do. An empty Namespace asks for every
// namespace; Name, when set, names the one object it is about, so that a
// Role limited to it (resourceNames) allows it as the API server would.
type Access struct {
	Namespace, Verb, Group, Resource, Subresource, Name string
}

func (a Access) attributes() authorizationv1.ResourceAttributes {
	return authorizationv1.ResourceAttributes{
		Namespace: a.Namespace, Verb: a.Verb, Group: a.Group, Resource: a.Resource, Subresource: a.Subresource, Name: a.Name,
	}
}

// SelfAllowed asks the API server whether the identity of client may do a
// (a SelfSubjectAccessReview). Its error is the API server's, unwrapped.
func SelfAllowed(ctx context.Context, client authorizationv1client.SelfSubjectAccessReviewsGetter, a Access) (bool, error) {
	attrs := a.attributes()
	review, err := client.SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return review.Status.Allowed, nil
}
