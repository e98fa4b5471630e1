package server

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// TestPermissions: the page learns what the server's identity may do from
// SelfSubjectAccessReviews, asked once per namespace within the TTL;
// read-only asks nothing and allows nothing.
func TestPermissions(t *testing.T) {
	f := newFixture(t, nil, rolloutObjects()...)
	var later atomic.Int64 // how far the cache's clock is ahead
	f.srv.perms.now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	var asked atomic.Int32
	f.client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		asked.Add(1)
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		attr := r.Spec.ResourceAttributes
		r.Status.Allowed = attr.Namespace == "shop" && (attr.Verb == "patch" || attr.Resource == "replicasets")
		return true, r, nil
	})
	var p Permissions
	getJSON(t, f, "/api/namespaces/shop/permissions", &p)
	if p != (Permissions{Patch: true, History: true, StatefulSets: KindPermissions{Patch: true}, DaemonSets: KindPermissions{Patch: true}}) {
		t.Errorf("permissions = %+v", p)
	}
	getJSON(t, f, "/api/namespaces/shop/permissions", &p)
	if n := asked.Load(); n != 8 {
		t.Errorf("%d reviews for two requests within the TTL, want 8 (one per permission)", n)
	}
	later.Store(int64(permissionsTTL))
	getJSON(t, f, "/api/namespaces/shop/permissions", &p)
	if n := asked.Load(); n != 16 {
		t.Errorf("%d reviews after the TTL, want 16", n)
	}

	ro := newFixture(t, func(o *Options) { o.ReadOnly = true }, rolloutObjects()...)
	getJSON(t, ro, "/api/namespaces/shop/permissions", &p)
	if p != (Permissions{ReadOnly: true}) || len(ro.client.Actions()) != 0 {
		t.Errorf("read-only permissions = %+v after %d requests", p, len(ro.client.Actions()))
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
	if n := asked.Load(); n != 8 {
		t.Errorf("%d reviews for %d pages asking together, want 8 (one per permission)", n, pages)
	}
	for i, p := range got {
		all := KindPermissions{Scale: true, Patch: true, History: true}
		if p != (Permissions{Scale: true, Patch: true, History: true, StatefulSets: all, DaemonSets: KindPermissions{Patch: true, History: true}}) {
			t.Errorf("page %d got %+v", i, p)
		}
	}
}

// TestPermissionsOfMadeUpNamespaces: namespaces that do not exist cost no
// review and are not kept; the answers kept are bounded, the stale ones
// dropped first.
func TestPermissionsOfMadeUpNamespaces(t *testing.T) {
	f := newFixture(t, nil, namespaceObj("shop"))
	var asked atomic.Int32
	f.client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		asked.Add(1)
		return false, nil, nil
	})
	for i := range 200 {
		if resp, e := f.do(t, "GET", fmt.Sprintf("/api/namespaces/made-up-%d/permissions", i), "", nil); resp.StatusCode != 404 {
			t.Fatalf("a made-up namespace's permissions: %d %s, want 404", resp.StatusCode, e.Message)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("200 made-up namespaces cost %d reviews, want 0", n)
	}
	// The bound, with namespaces that exist.
	var c keptCalls[int]
	c.ttl, c.max = time.Minute, 3
	now := time.Now()
	c.now = func() time.Time { return now }
	for i := range 10 {
		if i == 5 {
			now = now.Add(time.Minute) // those kept so far are stale
		}
		_, _ = c.get(t.Context(), fmt.Sprint(i), "asked", func(context.Context) (int, *apiError) { return i, nil })
		if len(c.kept) > 3 {
			t.Fatalf("%d answers kept, want at most 3", len(c.kept))
		}
	}
	if _, ok := c.kept["9"]; !ok {
		t.Error("the latest answer was not kept")
	}
}
