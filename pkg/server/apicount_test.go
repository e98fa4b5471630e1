package server

import (
	"context"
	"errors"
	"net"
	"net/url"
	goruntime "runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
)

// TestPageReconnectAsksTheAPIServerNothing: what a page asks when it
// reconnects or reloads (info, permissions, a ticket, the Deployments
// list, the stream resumed) is answered from the namespace's shared watch
// and serve's caches while someone views the namespace: the API server
// sees no request, however many pages come back.
func TestPageReconnectAsksTheAPIServerNothing(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 3))
	_, s := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	snap, err := s.next()
	if err != nil || snap.event != "snapshot" {
		t.Fatalf("first event: %+v %v", snap, err)
	}
	var p Permissions
	getJSON(t, f, "/api/namespaces/shop/permissions", &p) // kept for permissionsTTL
	before := len(f.client.Actions())

	const pages = 20
	for range pages {
		var info map[string]any
		getJSON(t, f, "/api/info", &info)
		getJSON(t, f, "/api/namespaces/shop/permissions", &p)
		var list []map[string]any
		getJSON(t, f, "/api/namespaces/shop/deployments", &list)
		if len(list) != 1 {
			t.Fatalf("the list: %v", list)
		}
		ticket := ticketOf(t, f, testToken)
		resp, _ := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream?ticket="+url.QueryEscape(ticket)+"&lastEventId="+url.QueryEscape(snap.id), map[string]string{"Authorization": ""})
		resp.Body.Close()
	}
	if after := f.client.Actions(); len(after) != before {
		for _, a := range after[before:] {
			t.Errorf("%d pages reconnecting asked the API server: %s %s", pages, a.GetVerb(), a.GetResource().Resource)
		}
	}
}

// TestListDeploymentsChecksOnceWithoutAWatch: without a watch of the
// namespace, the requests for its list that arrive together share one
// check of it.
func TestListDeploymentsChecksOnceWithoutAWatch(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), newDeployment("shop", "web", 3))
	var gets atomic.Int32
	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	t.Cleanup(free) // before the server's: a failed test must not leave requests waiting
	f.client.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		gets.Add(1)
		<-release
		return false, nil, nil // on to the fake's object
	})
	const pages = 10
	var wg sync.WaitGroup
	for range pages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var list []map[string]any
			getJSON(t, f, "/api/namespaces/shop/deployments", &list)
			if len(list) != 1 {
				t.Errorf("the list: %v", list)
			}
		}()
	}
	waitWaiting(t, &f.srv.checks, pages)
	free()
	wg.Wait()
	if n := gets.Load(); n != 1 {
		t.Errorf("%d namespace checks for %d lists arriving together, want 1", n, pages)
	}
}

// TestPermissionsSharedByPagesAskingTogether: pages that ask for the
// permissions at once (every page reloading) share one set of reviews.
func TestPermissionsSharedByPagesAskingTogether(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"))
	var asked atomic.Int32
	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	t.Cleanup(free) // before the server's: a failed test must not leave requests waiting
	f.client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		asked.Add(1)
		<-release
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		r.Status.Allowed = true
		return true, r, nil
	})
	const pages = 20
	var wg sync.WaitGroup
	got := make([]Permissions, pages)
	for i := range pages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			getJSON(t, f, "/api/namespaces/shop/permissions", &got[i])
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for f.srv.perms.asking.waiting.Load() != pages {
		if time.Now().After(deadline) {
			t.Fatalf("%d pages wait for the permissions after 30s, want %d", f.srv.perms.asking.waiting.Load(), pages)
		}
		goruntime.Gosched()
	}
	free()
	wg.Wait()
	if n := asked.Load(); n != 3 {
		t.Errorf("%d reviews for %d pages asking together, want 3 (one per permission)", n, pages)
	}
	for i, p := range got {
		if p != (Permissions{Scale: true, Patch: true, History: true}) {
			t.Errorf("page %d got %+v", i, p)
		}
	}
}

// TestReadyzAsksOncePerTTL: probes cost the API server one question per
// readyTTL, shared by the probes that arrive together, and a failure is
// kept as long as a success.
func TestReadyzAsksOncePerTTL(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now()
	var clock atomic.Int64
	f.srv.ready.now = func() time.Time { return now.Add(time.Duration(clock.Load())) }
	var asked atomic.Int32
	var down atomic.Bool
	f.client.PrependReactor("get", "version", func(k8stesting.Action) (bool, runtime.Object, error) {
		asked.Add(1)
		if down.Load() {
			return true, nil, errors.New("connection refused")
		}
		return false, nil, nil
	})
	probe := func() int {
		resp, err := f.ts.Client().Get(f.ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code := probe(); code != 200 {
				t.Errorf("/readyz: %d", code)
			}
		}()
	}
	wg.Wait()
	if n := asked.Load(); n != 1 {
		t.Errorf("20 probes within %v asked the API server %d times, want 1", readyTTL, n)
	}
	down.Store(true)
	if code := probe(); code != 200 || asked.Load() != 1 {
		t.Errorf("a probe within %v of the last answer: %d after %d questions", readyTTL, code, asked.Load())
	}
	clock.Add(int64(readyTTL))
	if code := probe(); code != 503 || asked.Load() != 2 {
		t.Errorf("a probe %v later, the API server down: %d after %d questions, want 503 after 2", readyTTL, code, asked.Load())
	}
	if code := probe(); code != 503 || asked.Load() != 2 {
		t.Errorf("the failure is kept for %v: %d after %d questions", readyTTL, code, asked.Load())
	}
}

// TestShutdownSpreadsTheRetry: streams told to reconnect at shutdown each
// get a retry delay of their own, from Retry to twice that, so that
// EventSource clients, which all got the same one when they connected, do
// not all come back at the same instant.
func TestShutdownSpreadsTheRetry(t *testing.T) {
	base, cancel, served := serving(t, namespaceObj("shop"), newDeployment("shop", "web", 1))
	const streams = 20
	var all []*sse
	for range streams {
		_, s := openStream(t, base+"/api/namespaces/shop/deployments/stream", nil)
		if ev, err := s.next(); err != nil || ev.event != "snapshot" || s.retry != "2000" {
			t.Fatalf("first event %+v (retry %q), %v", ev, s.retry, err)
		}
		all = append(all, s)
	}
	cancel()
	seen := map[string]bool{}
	for i, s := range all {
		ev, err := s.next()
		if err != nil || ev.event != "reconnect" {
			t.Fatalf("stream %d after shutdown: %+v, %v", i, ev, err)
		}
		ms, err := strconv.Atoi(s.retry)
		if err != nil || ms < 2000 || ms > 4000 {
			t.Errorf("stream %d: retry %q with its reconnect event, want 2000 to 4000", i, s.retry)
		}
		seen[s.retry] = true
	}
	// 20 draws from 2,001 values: all alike once in 10^62 runs.
	if len(seen) < 2 {
		t.Errorf("every stream got retry %v", seen)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// serving serves a Server of objects on a listener of its own, as Serve
// does in serve: cancel begins its shutdown, served gives Serve's answer.
func serving(t *testing.T, objects ...runtime.Object) (base string, cancel context.CancelFunc, served <-chan error) {
	t.Helper()
	_, _, base, cancel, served = servingServer(t, objects...)
	return base, cancel, served
}

// servingServer is serving that also returns the Server and its hub.
func servingServer(t *testing.T, objects ...runtime.Object) (srv *Server, h *hub.Hub, base string, cancel context.CancelFunc, served <-chan error) {
	t.Helper()
	client := newClient(objects...)
	h = hub.New(fakeApps{client.AppsV1()}, hub.Options{})
	t.Cleanup(h.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err = New(Options{Client: client, Hub: h, Token: testToken, Addr: ln.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, 10*time.Second) }()
	return srv, h, "http://" + ln.Addr().String(), cancel, done
}
