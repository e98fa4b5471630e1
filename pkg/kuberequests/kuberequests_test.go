package kuberequests

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/deploywatch/kubectl-deploywatch/pkg/outage"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		method, path, watch string
		verb, resource      string
	}{
		{"GET", "/api/v1/namespaces/shop", "", "get", "namespaces"},
		{"GET", "/api/v1/namespaces", "", "list", "namespaces"},
		{"GET", "/api/v1/namespaces/shop/pods", "", "list", "pods"},
		{"GET", "/api/v1/namespaces/shop/pods", "true", "watch", "pods"},
		{"GET", "/api/v1/namespaces/shop/events", "1", "watch", "events"},
		{"GET", "/api/v1/watch/namespaces/shop/pods", "", "watch", "pods"},
		{"GET", "/apis/apps/v1/deployments", "", "list", "deployments"},
		{"GET", "/apis/apps/v1/namespaces/shop/deployments/web", "", "get", "deployments"},
		{"GET", "/apis/apps/v1/namespaces/shop/deployments/web/scale", "", "get", "deployments/scale"},
		{"PUT", "/apis/apps/v1/namespaces/shop/deployments/web/scale", "", "update", "deployments/scale"},
		{"PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", "", "patch", "deployments"},
		{"DELETE", "/apis/apps/v1/namespaces/shop/deployments/web", "", "delete", "deployments"},
		{"DELETE", "/apis/apps/v1/namespaces/shop/deployments", "", "deletecollection", "deployments"},
		{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", "create", "selfsubjectaccessreviews"},
		{"POST", "/apis/authentication.k8s.io/v1/tokenreviews", "", "create", "tokenreviews"},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/shop/leases/deploywatch", "", "update", "leases"},
		{"PUT", "/api/v1/namespaces/shop/finalize", "", "update", "namespaces/finalize"},
		{"GET", "/version", "", "get", "/version"},
		{"GET", "/api", "", "get", "/api"},
		{"GET", "/apis/apps/v1", "", "get", "/apis"},
		{"GET", "/openapi/v3/apis/apps/v1", "", "get", "/openapi"},
		{"GET", "/", "", "get", "/"},
	}
	for _, tt := range tests {
		verb, resource := Classify(tt.method, tt.path, tt.watch)
		if verb != tt.verb || resource != tt.resource {
			t.Errorf("Classify(%s %s watch=%q) = %s %s, want %s %s", tt.method, tt.path, tt.watch, verb, resource, tt.verb, tt.resource)
		}
	}
}

// fakeAPIServer answers what the test's client asks, as an API server
// would, and counts what it got.
func fakeAPIServer(t *testing.T) (*httptest.Server, *int) {
	got := new(int)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got++
		w.Header().Set("Content-Type", "application/json")
		switch p := r.URL.Path; {
		case p == "/version":
			fmt.Fprint(w, `{"major":"1","minor":"37","gitVersion":"v1.37.2"}`)
		case p == "/api/v1/namespaces/shop":
			fmt.Fprint(w, `{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"shop"}}`)
		case strings.HasPrefix(p, "/api/v1/namespaces/"):
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
		case p == "/apis/apps/v1/namespaces/shop/deployments" && r.URL.Query().Get("watch") == "true":
			w.WriteHeader(http.StatusOK) // a watch that ends at once
		case p == "/apis/apps/v1/namespaces/shop/deployments":
			fmt.Fprint(w, `{"kind":"DeploymentList","apiVersion":"apps/v1","metadata":{},"items":[]}`)
		case p == "/apis/apps/v1/namespaces/shop/deployments/web/scale":
			fmt.Fprint(w, `{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","namespace":"shop"},"spec":{"replicas":2}}`)
		case p == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","status":{"allowed":true}}`)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(ts.Close)
	return ts, got
}

func TestCounterCountsEveryRequest(t *testing.T) {
	ts, served := fakeAPIServer(t)
	c := New()
	config := &rest.Config{Host: ts.URL}
	c.Instrument(config)
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		if _, err := kube.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kube.CoreV1().Namespaces().Get(ctx, "gone", metav1.GetOptions{}); err == nil {
		t.Fatal("a missing namespace: no error")
	}
	if _, err := kube.AppsV1().Deployments("shop").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := kube.AppsV1().Deployments("shop").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range w.ResultChan() { // the server ends it
	}
	if _, err := kube.AppsV1().Deployments("shop").UpdateScale(ctx, "web", &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: autoscalingv1.ScaleSpec{Replicas: 2},
	}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.Discovery().ServerVersion(); err != nil {
		t.Fatal(err)
	}
	// A client copied from the config counts too (serve's impersonating ones are).
	copied, err := kubernetes.NewForConfig(rest.CopyConfig(config))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := copied.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	want := map[[3]string]float64{
		{"get", "namespaces", "200"}:                  1 + 2,
		{"get", "namespaces", "404"}:                  1,
		{"list", "deployments", "200"}:                1,
		{"watch", "deployments", "200"}:               1,
		{"update", "deployments/scale", "200"}:        1,
		{"create", "selfsubjectaccessreviews", "201"}: 1,
		{"get", "/version", "200"}:                    1,
	}
	checkCounts(t, c, want)
	var total float64
	for _, n := range want {
		total += n
	}
	if int(total) != *served {
		t.Errorf("counted %v requests, the server got %d", total, *served)
	}

	// No answer at all: counted with code "error".
	ts.Close()
	if _, err := kube.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{}); err == nil {
		t.Fatal("a closed server: no error")
	}
	if n := counts(t, c)[[3]string{"get", "namespaces", "error"}]; n < 1 {
		t.Errorf("%v requests without an answer counted, want at least 1 (client-go may retry)", n)
	}
}

// checkCounts compares every series of c with want.
func checkCounts(t *testing.T, c *Counter, want map[[3]string]float64) {
	t.Helper()
	if got := counts(t, c); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counted\n%v\nwant\n%v", got, want)
	}
}

// counts gathers c's series by verb, resource and code, and checks that no
// label names a namespace or an object.
func counts(t *testing.T, c *Counter) map[[3]string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[[3]string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
				if strings.Contains(l.GetValue(), "shop") || strings.Contains(l.GetValue(), "web") {
					t.Errorf("label %s=%q names an object", l.GetName(), l.GetValue())
				}
			}
			got[[3]string{labels["verb"], labels["resource"], labels["code"]}] = m.GetCounter().GetValue()
		}
	}
	return got
}

// TestCounterCountsOnlyWhatIsSent: a counter added after the outage
// breaker counts the request that was refused, not the ones the breaker
// then failed without sending.
func TestCounterCountsOnlyWhatIsSent(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	host := ts.URL
	ts.Close()
	config := &rest.Config{Host: host}
	breaker := &outage.Breaker{}
	breaker.Install(config)
	c := New()
	c.Instrument(config)
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	// Until the breaker holds one back (on a slow machine the next
	// request may come after the first hold-back ended).
	n := 0
	for ; n < 100 && (n < 3 || breaker.Held() == 0); n++ {
		if _, err := kube.CoreV1().Namespaces().Get(context.Background(), "shop", metav1.GetOptions{}); err == nil {
			t.Fatal("a closed server answered")
		}
	}
	sent := int64(n) - breaker.Held()
	if breaker.Held() == 0 {
		t.Fatal("the breaker held back no request: nothing to tell apart")
	}
	checkCounts(t, c, map[[3]string]float64{{"get", "namespaces", "error"}: float64(sent)})
}
