package server

import (
	"context"
	"errors"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

// TestNamespaceCheckSharedByStreamsArrivingTogether: many streams that
// arrive while a check is in flight wait for it instead of each asking the
// API server.
func TestNamespaceCheckSharedByStreamsArrivingTogether(t *testing.T) {
	var c nsChecks
	var calls atomic.Int32
	release := make(chan struct{})
	check := func(ctx context.Context, ns string) *apiError {
		calls.Add(1)
		<-release
		if ns == "missing" {
			return errorf(404, "NotFound", "namespace %q not found", ns)
		}
		return nil
	}
	const callers = 50
	var wg sync.WaitGroup
	errs := make([]*apiError, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.do(context.Background(), "missing", check)
		}()
	}
	waitWaiting(t, &c, callers) // every caller has joined the one check in flight
	close(release)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Errorf("%d checks for %d callers arriving together, want 1", got, callers)
	}
	for i, e := range errs {
		if e == nil || e.Status != 404 {
			t.Fatalf("caller %d got %v, want the shared 404", i, e)
		}
	}
	// Once done, the next caller checks again: a namespace may be created
	// or deleted since.
	if e := c.do(context.Background(), "shop", check); e != nil {
		t.Fatalf("a later check of another namespace: %v", e)
	}
	if e := c.do(context.Background(), "missing", check); e == nil || calls.Load() != 3 {
		t.Fatalf("a later check: %v after %d calls, want a fresh 404 (3 calls)", e, calls.Load())
	}
}

// TestNamespaceCheckCallerLeaving: a caller whose request ends stops
// waiting, and the check still answers the others. The check honours its
// context, as the real one (a GET) does: were it run under the first
// caller's context, that caller's leaving would fail the one that stayed.
func TestNamespaceCheckCallerLeaving(t *testing.T) {
	var c nsChecks
	release := make(chan struct{})
	check := func(ctx context.Context, ns string) *apiError {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return errorf(503, "Canceled", "the check of namespace %q was canceled", ns)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan *apiError)
	go func() { first <- c.do(ctx, "shop", check) }()
	waitWaiting(t, &c, 1) // the first caller runs the check
	second := make(chan *apiError)
	go func() { second <- c.do(context.Background(), "shop", check) }()
	waitWaiting(t, &c, 2) // the second has joined it
	cancel()
	if e := <-first; e == nil {
		t.Fatal("the caller that left got no error")
	}
	close(release)
	if e := <-second; e != nil {
		t.Fatalf("the caller that stayed got %v, want the check's answer", e)
	}
}

// waitWaiting waits until n callers wait for a check.
func waitWaiting(t *testing.T, c *nsChecks, n int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.waiting.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait for the check after 30s, want %d", c.waiting.Load(), n)
		}
		goruntime.Gosched()
	}
}

// TestNoInformerForUncheckedNamespaces: a namespace that does not exist,
// that the identity may not watch, or (without the right to get namespaces)
// that the user did not name, starts no informer.
func TestNoInformerForUncheckedNamespaces(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"), namespaceObj("bank"))
	f.client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		review.Status.Allowed = review.Spec.ResourceAttributes.Namespace != "bank"
		return true, review, nil
	})
	for path, reason := range map[string]string{
		"/api/namespaces/nope/deployments/stream": "NotFound",
		"/api/namespaces/bank/deployments/stream": "Forbidden",
	} {
		if resp, e := f.do(t, "GET", path, "", nil); resp.StatusCode/100 != 4 || e.Reason != reason {
			t.Errorf("%s: %d %s, want %s", path, resp.StatusCode, e.Reason, reason)
		}
	}
	noGet := newFixture(t, nil, namespaceObj("shop"))
	noGet.client.PrependReactor("get", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "", errors.New("no"))
	})
	if resp, e := noGet.do(t, "GET", "/api/namespaces/made-up/deployments/stream", "", nil); resp.StatusCode != 403 || e.Reason != "NamespaceUnverified" {
		t.Errorf("a made-up namespace without the right to get namespaces: %d %s", resp.StatusCode, e.Reason)
	}
	_, s := openStream(t, noGet.ts.URL+"/api/namespaces/shop/deployments/stream", nil) // the kubeconfig's
	if ev, err := s.next(); err != nil || ev.event != "snapshot" {
		t.Fatalf("the kubeconfig's namespace: %+v %v", ev, err)
	}
	if n := f.hub.Stats().Informers; n != 0 {
		t.Errorf("%d informers for refused namespaces", n)
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
