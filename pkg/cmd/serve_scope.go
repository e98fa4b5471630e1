package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/server"
)

// scopeGuard ends serve when its identity loses a right that the watch of
// all namespaces, chosen at start (clusterWide), needs. The API server
// checks RBAC when a request starts, so a watch that runs goes on after the
// right is gone; the loss shows when a watch is next opened (every 5 to 10
// minutes, or after a restart of the API server), which is then refused
// again and again, and every page goes stale. A refused watch is checked
// with the reviews serve asked at start; when the identity may no longer
// watch all namespaces, serve shuts down (each stream is told to
// reconnect) and exits with the error, which says what was lost and the
// fix. Started again, by hand or by the kubelet of deploy/'s Deployment,
// --watch-scope=auto decides afresh and watches each namespace on its own;
// the pages reconnect by themselves.
type scopeGuard struct {
	reviews authorizationv1client.SelfSubjectAccessReviewsGetter
	scope   string // --watch-scope: auto or cluster
	context string // the kubeconfig context's name with several, else ""
	log     *slog.Logger
	refused chan struct{}
	end     context.CancelCauseFunc
}

// scopeRecheck is the least time between two checks: a refused watch is
// retried by each informer with backoff, and one check answers for all.
const scopeRecheck = 30 * time.Second

func newScopeGuard(reviews authorizationv1client.SelfSubjectAccessReviewsGetter, scope, context string, log *slog.Logger, end context.CancelCauseFunc) *scopeGuard {
	return &scopeGuard{reviews: reviews, scope: scope, context: context, log: log, refused: make(chan struct{}, 1), end: end}
}

// watchFailed hears of the hub's watch errors; a watch of all namespaces
// (namespace "") refused with 403 has the rights checked. A nil guard (a
// watch per namespace) ignores them.
func (g *scopeGuard) watchFailed(namespace string, err error) {
	if g == nil || namespace != "" || !apierrors.IsForbidden(err) {
		return
	}
	select {
	case g.refused <- struct{}{}:
	default: // a check is due already
	}
}

// run checks the rights after each refused watch, at most once per
// scopeRecheck, until ctx ends or they are lost.
func (g *scopeGuard) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.refused:
		}
		may, err := server.CheckClusterWatch(ctx, g.reviews, true)
		switch {
		case err == nil && len(may.Missing) > 0:
			lost := &scopeLostError{scope: g.scope, context: g.context, missing: may.Missing}
			g.log.Error("ending: the watch of all namespaces is refused", "error", lost.Error())
			g.end(lost)
			return
		case err != nil && ctx.Err() == nil:
			g.log.Warn("a watch of all namespaces was refused, and its rights could not be checked", "error", oneLine(err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(scopeRecheck):
		}
	}
}

// scopeLostError is why serve ended when its identity lost a right that
// its watch of all namespaces needs.
type scopeLostError struct {
	scope, context string
	missing        []string
}

func (e *scopeLostError) Error() string {
	where := ""
	if e.context != "" {
		where = fmt.Sprintf("context %q: ", e.context)
	}
	lost := strings.Join(e.missing, ", ")
	if e.scope == server.ScopeCluster {
		return fmt.Sprintf("%s--watch-scope=cluster: this identity may no longer %s in all namespaces; grant it back (see deploy/), or use --watch-scope=auto", where, lost)
	}
	return fmt.Sprintf("%sthis identity may no longer %s in all namespaces, which serve's watch of all namespaces (--watch-scope=auto, decided at start) needs: "+
		"start serve again to watch each namespace on its own, or grant it back (see deploy/)", where, lost)
}

// scopeLost returns the scopeLostError that ended ctx, or nil.
func scopeLost(ctx context.Context) error {
	var lost *scopeLostError
	if errors.As(context.Cause(ctx), &lost) {
		return lost
	}
	return nil
}
