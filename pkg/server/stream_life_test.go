package server

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// nextWithin is s's next event, or a failure after d.
func nextWithin(t *testing.T, s *sse, d time.Duration) (sseEvent, error) {
	t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ev, err := s.next()
		ch <- result{ev, err}
	}()
	select {
	case r := <-ch:
		return r.ev, r.err
	case <-time.After(d):
		t.Fatalf("no event within %s", d)
	}
	return sseEvent{}, nil
}

// TestStreamEndsWhenTheTokenIsRefused: a stream's token is checked again
// at its re-check; once the cluster refuses it (a ServiceAccount deleted),
// the stream ends with an unauthorized event, though its user's rights
// did not change.
func TestStreamEndsWhenTheTokenIsRefused(t *testing.T) {
	k := newKubeFixture(t)
	var offset atomic.Int64
	k.srv.kube.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	k.srv.opts.Heartbeat = 20 * time.Millisecond // wakes the stream often; no stream runs yet
	var mu sync.Mutex
	refused := false
	k.client.PrependReactor("create", "tokenreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		tr := a.(clienttesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		if refused && tr.Spec.Token == "bob-token" {
			tr.Status = authenticationv1.TokenReviewStatus{Error: "serviceaccounts \"bob\" not found"}
			return true, tr, nil
		}
		return false, nil, nil
	})
	for _, how := range []string{"header", "ticket"} {
		t.Run(how, func(t *testing.T) {
			mu.Lock()
			refused = false
			mu.Unlock()
			url, header := k.ts.URL+"/api/namespaces/shop/deployments/stream", as("bob")
			if how == "ticket" {
				url, header = url+"?ticket="+ticketOf(t, k.fixture, "bob-token"), noAuth
			}
			_, s := openStream(t, url, header)
			if ev, err := s.next(); err != nil || ev.event != "snapshot" {
				t.Fatalf("bob's stream: %+v %v", ev, err)
			}
			mu.Lock()
			refused = true
			mu.Unlock()
			offset.Add(int64(auth.TokenReviewTTL + auth.AccessReviewTTL + time.Second))
			ev, err := nextWithin(t, s, 10*time.Second)
			if err != nil || ev.event != "unauthorized" || !strings.Contains(ev.data, "Unauthorized") {
				t.Fatalf("after the token was refused: %+v %v, want an unauthorized event", ev, err)
			}
			if ev, err := nextWithin(t, s, 10*time.Second); err == nil {
				t.Fatalf("the stream goes on: %+v", ev)
			}
		})
	}
}

// TestStreamLifeIsBounded: a stream ends after MaxStreamLife (to twice
// that) with a reconnect event carrying the last id, to resume from.
func TestStreamLifeIsBounded(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxStreamLife = 100 * time.Millisecond }, namespaceObj("shop"), newDeployment("shop", "web", 1))
	start := time.Now()
	_, s := openStream(t, f.ts.URL+"/api/namespaces/shop/deployments/stream", nil)
	snap, err := s.next()
	if err != nil || snap.event != "snapshot" {
		t.Fatalf("stream: %+v %v", snap, err)
	}
	ev, err := nextWithin(t, s, 10*time.Second)
	if err != nil || ev.event != reconnectEvent || ev.id != snap.id || !strings.Contains(ev.data, "Expired") {
		t.Fatalf("got %+v %v; want a reconnect event with id %q and reason Expired", ev, err, snap.id)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("the stream ended after %s, before MaxStreamLife", took)
	}
	if ev, err := nextWithin(t, s, 10*time.Second); err == nil {
		t.Fatalf("the stream goes on: %+v", ev)
	}
}
