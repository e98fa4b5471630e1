package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// FuzzRequest sends arbitrary methods, paths, bodies, tokens and
// Last-Event-IDs through the whole handler (routing, origin checks, token,
// body decoding, validation, the operations): it never panics, answers with
// a known status, explains every error as JSON, and changes the Deployment
// only through a request it answered 200.
func FuzzRequest(f *testing.F) {
	for _, seed := range []struct{ method, path, body, token, lastID string }{
		{"PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}`, testToken, ""},
		{"PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": -1}`, testToken, ""},
		{"PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 1e99}`, testToken, ""},
		{"PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2, "currentReplicas": 7}`, testToken, ""},
		{"PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas": 2}{}`, testToken, ""},
		{"PUT", "/api/namespaces/shop/deployments/web/image", `{"container": "web", "image": "nginx:2"}`, testToken, ""},
		{"PUT", "/api/namespaces/shop/deployments/web/image", `{"container": "*", "image": "Not An Image"}`, testToken, ""},
		{"PUT", "/api/namespaces/shop/deployments/web/image", `{"container": "web", "image": "nginx@sha256:abc"}`, "wrong", ""},
		{"PUT", "/api/namespaces/shop/deployments/../../x/scale", `{}`, testToken, ""},
		{"PUT", "/api/namespaces/SHOP/deployments/web/scale", `{"replicas": 1}`, testToken, ""},
		{"POST", "/api/namespaces/shop/deployments/web/scale", ``, testToken, ""},
		{"GET", "/api/namespaces", ``, "", ""},
		{"GET", "/api/namespaces/shop/deployments", ``, "", ""},
		{"GET", "/api/namespaces/shop/deployments/stream", ``, "", "not-an-id"},
		{"GET", "/api/namespaces/shop/deployments/stream", ``, "", "abc-18446744073709551615"},
		{"GET", "/api/namespaces/%2e%2e/deployments/stream", ``, "", "-"},
		{"GET", "/api/nope", ``, "", ""},
		{"DELETE", "/", ``, "", ""},
	} {
		f.Add(seed.method, seed.path, seed.body, seed.token, seed.lastID)
	}
	fx := newFixture(f, nil, namespaceObj("shop"), newDeployment("shop", "web", 1))
	serveScale(fx.client)
	handler := fx.srv.Handler()
	allowed := map[int]bool{200: true, 301: true, 304: true, 307: true, 308: true, // redirects: the mux cleans paths
		400: true, 401: true, 403: true, 404: true, 405: true, 409: true, 413: true, 415: true, 422: true, 429: true, 503: true}

	f.Fuzz(func(t *testing.T, method, path, body, token, lastID string) {
		if _, err := url.ParseRequestURI(path); err != nil || !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return // not an HTTP request a server can receive
		}
		before := specOf(t, fx.client)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond) // streams end here
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, method, "http://127.0.0.1"+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if lastID != "" && !strings.ContainsAny(lastID, "\r\n\x00") {
			req.Header.Set("Last-Event-ID", lastID)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		if !allowed[rec.Code] {
			t.Fatalf("%s %s: status %d", method, path, rec.Code)
		}
		// The API explains errors in JSON; a page path that does not exist is
		// the file server's plain 404.
		if rec.Code >= 400 && (strings.HasPrefix(req.URL.Path, "/api/") || rec.Code != http.StatusNotFound) {
			var e apiError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == "" || e.Reason == "" {
				t.Fatalf("%s %s: %d with body %q, want a JSON error and reason", method, path, rec.Code, rec.Body.String())
			}
		}
		if after := specOf(t, fx.client); after != before && (rec.Code != 200 || method != http.MethodPut) {
			t.Fatalf("%s %s answered %d but changed the Deployment", method, path, rec.Code)
		}
	})
}

// specOf is what a change could alter: web's replicas and images.
func specOf(t *testing.T, client *fake.Clientset) string {
	d, err := client.AppsV1().Deployments("shop").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprint(*d.Spec.Replicas)
	for _, c := range d.Spec.Template.Spec.Containers {
		out += " " + c.Name + "=" + c.Image
	}
	return out
}

// serveScale makes the fake serve the scale subresource as the API server
// does; the fake alone answers it with the Deployment.
func serveScale(client *fake.Clientset) {
	gvr := appsv1.SchemeGroupVersion.WithResource("deployments")
	client.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ga := a.(k8stesting.GetAction)
		if ga.GetSubresource() != "scale" {
			return false, nil, nil
		}
		obj, err := client.Tracker().Get(gvr, ga.GetNamespace(), ga.GetName())
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment)
		return true, &autoscalingv1.Scale{ObjectMeta: d.ObjectMeta, Spec: autoscalingv1.ScaleSpec{Replicas: *d.Spec.Replicas}}, nil
	})
	client.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ua := a.(k8stesting.UpdateAction)
		if ua.GetSubresource() != "scale" {
			return false, nil, nil
		}
		s := ua.GetObject().(*autoscalingv1.Scale)
		obj, err := client.Tracker().Get(gvr, ua.GetNamespace(), s.Name)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Spec.Replicas = &s.Spec.Replicas
		if len(ua.(k8stesting.UpdateActionImpl).UpdateOptions.DryRun) == 0 {
			if err := client.Tracker().Update(gvr, d, d.Namespace); err != nil {
				return true, nil, err
			}
		}
		return true, s, nil
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS":
		return true
	}
	return false
}
