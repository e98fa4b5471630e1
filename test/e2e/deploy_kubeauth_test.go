package e2e

import (
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// actForUsersRules are what --auth=kubernetes needs beyond reads: who a
// token is, whether its user may, and acting as that user (the uid and the
// extras a ServiceAccount token's review carries).
var actForUsersRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"users", "groups", "serviceaccounts"}, Verbs: []string{"impersonate"}},
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"uids",
		"userextras/authentication.kubernetes.io/credential-id", "userextras/authentication.kubernetes.io/node-name",
		"userextras/authentication.kubernetes.io/node-uid", "userextras/authentication.kubernetes.io/pod-name",
		"userextras/authentication.kubernetes.io/pod-uid"}, Verbs: []string{"impersonate"}},
}

// sharedReadRules are the shared watches' reads and the namespace list.
var sharedReadRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods", "events", "services"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
}

// rendered is what kubectl kustomize makes of a folder of deploy/, by kind and name.
type rendered map[string][]byte

func renderDeploy(t *testing.T, variant string) rendered {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "deploy", variant))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/kubectl", "kustomize", dir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize deploy/%s: %v", variant, err)
	}
	docs := rendered{}
	dec := yaml.NewDocumentDecoder(io.NopCloser(bytes.NewReader(out)))
	for {
		buf := make([]byte, 1<<20)
		n, err := dec.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var obj metav1.PartialObjectMetadata
		if err := yaml.Unmarshal(buf[:n], &obj); err != nil {
			t.Fatal(err)
		}
		docs[obj.Kind+"/"+obj.Namespace+"/"+obj.Name] = buf[:n]
	}
	return docs
}

func (r rendered) get(t *testing.T, key string, into any) {
	t.Helper()
	doc, ok := r[key]
	if !ok {
		t.Fatalf("no %s in %v", key, slices.Sorted(func(yield func(string) bool) {
			for k := range r {
				if !yield(k) {
					return
				}
			}
		}))
	}
	if err := yaml.Unmarshal(doc, into); err != nil {
		t.Fatal(err)
	}
}

// TestDeployKubernetesAuthManifests: deploy/kubernetes-auth/ runs serve
// --auth=kubernetes with no shared token, its ServiceAccount may read and
// act for users but change nothing as itself, a NetworkPolicy lets in
// only serve's port, and the Service keeps a client on one replica (a
// ticket is its replica's). deploy/namespaced/ reads through Roles in the
// served namespaces only. (The e2e tests in serve_kubeauth_test.go run
// serve with exactly these rules.)
func TestDeployKubernetesAuthManifests(t *testing.T) {
	r := renderDeploy(t, "kubernetes-auth")
	var role rbacv1.ClusterRole
	r.get(t, "ClusterRole//deploywatch", &role)
	if want := append(slices.Clone(sharedReadRules), actForUsersRules...); !sameRules(role.Rules, want) {
		t.Errorf("kubernetes-auth's ClusterRole rules:\n%s\nwant:\n%s", fmtJSON(role.Rules), fmtJSON(want))
	}
	var d appsv1.Deployment
	r.get(t, "Deployment/deploywatch/deploywatch", &d)
	args := deployArgs(d.Spec.Template.Spec.Containers[0].Args)
	if args["--auth"] != "kubernetes" || args["--token-file"] != "" || len(d.Spec.Template.Spec.Volumes) != 0 {
		t.Errorf("args %q, volumes %v; want --auth=kubernetes and no token file", d.Spec.Template.Spec.Containers[0].Args, d.Spec.Template.Spec.Volumes)
	}
	var svc corev1.Service
	r.get(t, "Service/deploywatch/deploywatch", &svc)
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		t.Errorf("Service sessionAffinity %q, want ClientIP", svc.Spec.SessionAffinity)
	}
	var np networkingv1.NetworkPolicy
	r.get(t, "NetworkPolicy/deploywatch/deploywatch", &np)
	if !selects(np.Spec.PodSelector.MatchLabels, d.Spec.Template.Labels) || !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) ||
		len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.IntValue() != 8080 ||
		len(np.Spec.Ingress[0].From) != 1 || np.Spec.Ingress[0].From[0].NamespaceSelector == nil || len(np.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels) == 0 {
		t.Errorf("NetworkPolicy %s; want ingress to serve's pods on port 8080 alone, from labelled namespaces alone", fmtJSON(np.Spec))
	}

	n := renderDeploy(t, "namespaced")
	var nrole rbacv1.ClusterRole
	n.get(t, "ClusterRole//deploywatch", &nrole)
	if !sameRules(nrole.Rules, actForUsersRules) {
		t.Errorf("namespaced's ClusterRole rules:\n%s\nwant only acting for users:\n%s", fmtJSON(nrole.Rules), fmtJSON(actForUsersRules))
	}
	var read rbacv1.Role
	n.get(t, "Role/shop/deploywatch-read", &read)
	if !sameRules(read.Rules, sharedReadRules[:len(sharedReadRules)-1]) { // all but the namespace list
		t.Errorf("namespaced's Role rules:\n%s\nwant the shared watches' reads", fmtJSON(read.Rules))
	}
	var binding rbacv1.RoleBinding
	n.get(t, "RoleBinding/shop/deploywatch-read", &binding)
	if binding.RoleRef.Name != "deploywatch-read" || len(binding.Subjects) != 1 || binding.Subjects[0].Name != deployName || binding.Subjects[0].Namespace != deployNamespace {
		t.Errorf("namespaced's RoleBinding %s; want the Role bound to serve's ServiceAccount", fmtJSON(binding))
	}
	var nd appsv1.Deployment
	n.get(t, "Deployment/deploywatch/deploywatch", &nd)
	if nargs := deployArgs(nd.Spec.Template.Spec.Containers[0].Args); nargs["--auth"] != "kubernetes" || nargs["--namespaces"] != "shop" {
		t.Errorf("namespaced's args %q; want --auth=kubernetes --namespaces=shop", nd.Spec.Template.Spec.Containers[0].Args)
	}
}
