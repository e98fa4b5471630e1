package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clienttesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// failingSource is a tracker whose one Deployment, shop/web, is Failing
// with a problem read from a pod, and which sends more such events on
// demand (send). Without a linger the hub starts a tracker anew for each
// request that comes after the last one left, and stops the old one in the
// background: send tells the newest only, the one the streams follow. (A
// channel shared by all of them let a tracker about to stop take the event
// once, and the streams waited for it until the test timed out.)
type failingSource struct {
	mu     *sync.Mutex
	newest *tracker.Sink
}

func failingSummary(pods int) deployment.Summary {
	problems := []diagnosis.Problem{{Reason: "Unschedulable", Message: "0/2 nodes are available: secret-node-name", Pod: "web-7d9-abcde", Pods: pods}}
	return deployment.Summary{Namespace: "shop", Name: "web", Status: deployment.Failing,
		Message: diagnosis.Describe(problems, 2, 2), Problems: problems, Replicas: deployment.Replicas{Desired: 2}}
}

func (f failingSource) Start(ctx context.Context, sink tracker.Sink) (func(), error) {
	s := failingSummary(1)
	sink.OnEvent(deployment.Event{Type: deployment.Added, Time: time.Now(), Summary: s})
	sink.OnSynced([]deployment.Summary{s})
	f.mu.Lock()
	*f.newest = sink
	f.mu.Unlock()
	return func() {}, nil
}

func (f failingSource) send(e deployment.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	(*f.newest).OnEvent(e)
}

func (failingSource) Relists() int64 { return 0 }

// newDiagnosisFixture is an --auth=kubernetes server over failingSource:
// "viewer" may read Deployments in shop, "debugger" its Pods and Events too.
func newDiagnosisFixture(t *testing.T) (*fixture, failingSource) {
	t.Helper()
	src := failingSource{mu: &sync.Mutex{}, newest: new(tracker.Sink)}
	h := hub.New(nil, hub.Options{NewSource: func(string) hub.Source { return src }, Frame: Frame[hub.Kind]})
	t.Cleanup(h.Close)
	f := newFixture(t, func(o *Options) {
		o.Auth, o.Token, o.Hub = AuthKubernetes, "", h
		o.Impersonate = func(authenticationv1.UserInfo) (kubernetes.Interface, error) { return nil, nil }
	}, namespaceObj("shop"))
	f.client.PrependReactor("create", "tokenreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		tr := a.(clienttesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		if user, ok := strings.CutSuffix(tr.Spec.Token, "-token"); ok {
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: user}}
		}
		return true, tr, nil
	})
	f.client.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		sar := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		sar.Status.Allowed = ra.Namespace == "shop" && (ra.Resource == "deployments" || sar.Spec.User == "debugger")
		return true, sar, nil
	})
	return f, src
}

// TestDiagnosisOnlyForWhoMayReadPods: a user who may read Deployments but
// not Pods and Events gets no problems and no message that quotes them, in
// the list, the stream's snapshot and its events; one who may gets them.
func TestDiagnosisOnlyForWhoMayReadPods(t *testing.T) {
	f, src := newDiagnosisFixture(t)
	const secret = "secret-node-name"
	list := func(user string) string {
		req, _ := http.NewRequest("GET", f.ts.URL+"/api/namespaces/shop/deployments", nil)
		req.Header.Set("Authorization", "Bearer "+user+"-token")
		resp, err := f.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got []deployment.Summary
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || len(got) != 1 {
			t.Fatalf("%s's list: %v %v", user, got, err)
		}
		b, _ := json.Marshal(got)
		return string(b)
	}
	if got := list("viewer"); strings.Contains(got, secret) || strings.Contains(got, "web-7d9-abcde") || strings.Contains(got, `"problems"`) {
		t.Errorf("viewer's list carries the diagnosis: %s", got)
	}
	if got := list("debugger"); !strings.Contains(got, secret) || !strings.Contains(got, `"problems"`) {
		t.Errorf("debugger's list lacks the diagnosis: %s", got)
	}
	_, viewer := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", as("viewer"))
	_, debugger := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", as("debugger"))
	for _, kind := range []string{"snapshot", "upsert"} {
		for name, s := range map[string]*sse{"viewer": viewer, "debugger": debugger} {
			ev, err := s.next()
			if err != nil || ev.event != kind {
				t.Fatalf("%s's stream: %+v %v, want a %s", name, ev, err, kind)
			}
			if has := strings.Contains(ev.data, secret) || strings.Contains(ev.data, `"problems"`); has != (name == "debugger") {
				t.Errorf("%s's %s carries the diagnosis: %v, want %v: %s", name, kind, has, name == "debugger", ev.data)
			}
		}
		if kind == "snapshot" { // then an event of the same Deployment, with more pods failing
			src.send(deployment.Event{Type: deployment.Modified, Time: time.Now(), Summary: failingSummary(2), Changed: []string{"message", "problems"}})
		}
	}
}
