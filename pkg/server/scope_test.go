package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
)

// fakeCore is fakeApps for the namespaces.
type fakeCore struct{ corev1client.NamespacesGetter }

func (fakeCore) IsWatchListSemanticsUnSupported() bool { return true }

// lists counts the LIST requests the fake has answered.
func lists(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "list" {
			n++
		}
	}
	return n
}

func TestListNamespacesFromClusterWideWatches(t *testing.T) {
	client := newClient(namespaceObj("shop"), namespaceObj("bank"), namespaceObj("quiet"),
		newDeployment("shop", "web", 1), newDeployment("shop", "api", 0), newDeployment("bank", "ledger", 2))
	h := hub.New(fakeApps{client.AppsV1()}, hub.Options{ClusterWide: &hub.ClusterWide{Namespaces: fakeCore{client.CoreV1()}}})
	ts := httptest.NewUnstartedServer(nil)
	srv, err := New(Options{Client: client, Hub: h, Token: testToken, Addr: ts.Listener.Addr(), DefaultNamespace: "shop", Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	startTest(t, ts, srv.Handler())
	f := &fixture{client: client, hub: h, srv: srv, ts: ts}

	// The first check of a namespace, with no watch running, asks whether
	// it exists, not whether serve may watch it: that was asked at start.
	var items []deployment.Summary
	getJSON(t, f, "/api/namespaces/shop/deployments", &items)
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "selfsubjectaccessreviews" {
			t.Fatalf("the check of shop asked %v: serve may watch everywhere", a)
		}
	}
	if !slices.ContainsFunc(client.Actions(), func(a k8stesting.Action) bool { return a.Matches("get", "namespaces") }) {
		t.Fatalf("the check of shop did not ask whether it exists: %v", client.Actions())
	}
	// A viewer of one namespace keeps the cluster-wide watches running.
	sub, err := h.Subscribe(context.Background(), "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	before := lists(client)
	calls := len(client.Actions())
	// A namespace's check and snapshot come from the watches too.
	getJSON(t, f, "/api/namespaces/bank/deployments", &items)
	if len(items) != 1 || items[0].Name != "ledger" {
		t.Fatalf("bank's deployments = %+v, want ledger", items)
	}
	if n := len(client.Actions()) - calls; n != 0 {
		t.Fatalf("GET /api/namespaces/bank/deployments made %d API requests (%v), want 0", n, client.Actions()[calls:])
	}
	if resp, e := f.do(t, "GET", "/api/namespaces/nosuch/deployments", "", nil); resp.StatusCode != 404 {
		t.Fatalf("a missing namespace: %d %+v, want 404", resp.StatusCode, e)
	}
	var got namespaceList
	getJSON(t, f, "/api/namespaces", &got)
	if n := lists(client) - before; n != 0 {
		t.Fatalf("GET /api/namespaces made %d LIST requests while the cluster-wide watches run, want 0", n)
	}
	want := []namespaceInfo{
		{Name: "bank", Deployments: map[deployment.Status]int{deployment.Running: 1}, Total: 1},
		{Name: "quiet", Deployments: map[deployment.Status]int{}, Total: 0},
		{Name: "shop", Deployments: map[deployment.Status]int{deployment.Running: 1, deployment.ScaledToZero: 1}, Total: 2},
	}
	if fmtJSON(got.Namespaces) != fmtJSON(want) {
		t.Fatalf("got %s, want %s", fmtJSON(got.Namespaces), fmtJSON(want))
	}

	// A namespace created later is listed at once: no list kept for a while.
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), namespaceObj("later"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got namespaceList
		getJSON(t, f, "/api/namespaces", &got)
		if slices.ContainsFunc(got.Namespaces, func(i namespaceInfo) bool { return i.Name == "later" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace later not listed: %s", fmtJSON(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := lists(client) - before; n != 0 {
		t.Fatalf("%d LIST requests, want 0", n)
	}
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

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
				"list services", "watch services", "list endpointslices", "watch endpointslices"}, false},
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
