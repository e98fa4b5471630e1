package cmd

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// reviewsPerCheck is what server.CheckClusterWatch asks: list and watch of
// seven resources and of namespaces.
const reviewsPerCheck = 16

// TestScopeGuardEndsServeWhenTheRightsAreLost: a refused watch of all
// namespaces has the rights checked, at most once per scopeRecheck; while
// they hold serve goes on, and once one is lost serve ends with an error
// that names it and the fix. Other errors, and a namespace's own watch,
// ask nothing.
func TestScopeGuardEndsServeWhenTheRightsAreLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset()
		var mayPods atomic.Bool
		mayPods.Store(true)
		var asked atomic.Int32
		client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			asked.Add(1)
			review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
			review.Status.Allowed = mayPods.Load() || review.Spec.ResourceAttributes.Resource != "pods"
			return true, review, nil
		})
		ctx, end := context.WithCancelCause(context.Background())
		defer end(nil)
		g := newScopeGuard(client.AuthorizationV1(), "auto", "west", slog.New(slog.DiscardHandler), end)
		go g.run(ctx)
		forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("RBAC: not allowed"))

		g.watchFailed("shop", forbidden)
		g.watchFailed("", errors.New("connection refused"))
		synctest.Wait()
		if n := asked.Load(); n != 0 {
			t.Fatalf("%d reviews after a namespace's refusal and a network error, want 0", n)
		}

		g.watchFailed("", forbidden)
		synctest.Wait()
		if n := asked.Load(); n != reviewsPerCheck || ctx.Err() != nil {
			t.Fatalf("after a refusal with the rights held: %d reviews (want %d), ended %v", n, reviewsPerCheck, context.Cause(ctx))
		}

		mayPods.Store(false)
		g.watchFailed("", forbidden)
		g.watchFailed("", forbidden)
		synctest.Wait()
		if n := asked.Load(); n != reviewsPerCheck || ctx.Err() != nil {
			t.Fatalf("refusals within %v of a check: %d reviews (want %d), ended %v", scopeRecheck, n, reviewsPerCheck, context.Cause(ctx))
		}
		time.Sleep(scopeRecheck)
		synctest.Wait()
		if n := asked.Load(); n != 2*reviewsPerCheck {
			t.Fatalf("%d reviews %v later, want %d", n, scopeRecheck, 2*reviewsPerCheck)
		}
		err := scopeLost(ctx)
		if err == nil {
			t.Fatalf("serve goes on without the right to list pods; cause %v", context.Cause(ctx))
		}
		for _, want := range []string{`context "west": `, "may no longer list pods, watch pods in all namespaces", "start serve again", "see deploy/"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})
	var none *scopeGuard // a watch per namespace
	none.watchFailed("", apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no")))
	if scopeLost(context.Background()) != nil {
		t.Fatal("scopeLost of a context not ended by a guard")
	}
}

// TestServeWatchScopeUndecided: auto does not choose a scope for life from
// a question that failed (not a refusal): serve does not start.
func TestServeWatchScopeUndecided(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	})
	o := NewServeOptions(nil, genericiooptions.NewTestIOStreamsDiscard())
	_, err := o.clusterWide(context.Background(), client, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "--watch-scope=auto: ") || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "--watch-scope=namespace") {
		t.Fatalf("err = %v, want --watch-scope=auto, the cause and the fix", err)
	}
	// A refused question is an answer: a watch per namespace.
	client = fake.NewClientset()
	client.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "authorization.k8s.io", Resource: "selfsubjectaccessreviews"}, "", errors.New("no"))
	})
	if cw, err := o.clusterWide(context.Background(), client, slog.New(slog.DiscardHandler)); err != nil || cw != nil {
		t.Fatalf("may not ask: %v, %v; want a watch per namespace", cw, err)
	}
}
