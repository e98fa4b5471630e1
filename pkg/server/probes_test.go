package server

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func TestReadyzFailsWhenDraining(t *testing.T) {
	f := newFixture(t, nil)
	if resp, e := f.do(t, "GET", "/readyz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("readyz: %d %s", resp.StatusCode, e.Message)
	}
	f.srv.draining.Store(true)
	if resp, e := f.do(t, "GET", "/readyz", "", nil); resp.StatusCode != 503 || e.Reason != "ShuttingDown" {
		t.Fatalf("readyz while draining: %d %s", resp.StatusCode, e.Reason)
	}
	if resp, _ := f.do(t, "GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz while draining: %d", resp.StatusCode)
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

// TestReadyzNeedsTheRightToList: an identity that may list Deployments in
// no namespace it serves is not ready, and says why; once granted one of
// them (after canReadTTL), it is.
func TestReadyzNeedsTheRightToList(t *testing.T) {
	for _, tc := range []struct {
		name       string
		namespaces []string
		allowedIn  string // "" for none, "*" for every namespace
	}{
		{"every namespace", nil, "shop"},
		{"--namespaces", []string{"shop", "bank"}, "bank"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.Namespaces = tc.namespaces })
			now := time.Now()
			var clock atomic.Int64
			f.srv.canRead.now = func() time.Time { return now.Add(time.Duration(clock.Load())) }
			var granted atomic.Bool
			f.client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
				review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
				review.Status.Allowed = granted.Load() && review.Spec.ResourceAttributes.Namespace == tc.allowedIn
				return true, review, nil
			})
			resp, e := f.do(t, "GET", "/readyz", "", nil)
			if resp.StatusCode != 503 || e.Reason != "NoReadAccess" || !strings.Contains(e.Message, "may not list deployments") {
				t.Fatalf("/readyz of an identity that may read nothing: %d %s %s", resp.StatusCode, e.Reason, e.Message)
			}
			granted.Store(true)
			clock.Add(int64(canReadTTL))
			if resp, e := f.do(t, "GET", "/readyz", "", nil); resp.StatusCode != 200 {
				t.Fatalf("/readyz once it may list in %s: %d %s", tc.allowedIn, resp.StatusCode, e.Message)
			}
		})
	}
}
