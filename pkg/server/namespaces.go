package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// namespaceInfo is one entry of GET /api/namespaces.
type namespaceInfo struct {
	Name string `json:"name"`
	// Deployments counts the namespace's Deployments by status; absent
	// when they could not be listed (see Error).
	Deployments map[deployment.Status]int `json:"deployments,omitempty"`
	Total       int                       `json:"total"`
	// Undiagnosed counts the Deployments counted by their own status only
	// (no watch of the namespace read its pods), among those whose
	// diagnosis could say Failing (Progressing, Scaling, Degraded): more
	// namespaces needed one than serve diagnoses at once, or it failed.
	Undiagnosed int    `json:"undiagnosed,omitempty"`
	Error       string `json:"error,omitempty"`
}

type namespaceList struct {
	Namespaces []namespaceInfo `json:"namespaces"`
	// Warning says why the list may be incomplete, e.g. the user may not
	// list namespaces.
	Warning string `json:"warning,omitempty"`
}

// nsListTTL is how long GET /api/namespaces answers from its last list.
const nsListTTL = 5 * time.Second

// listNamespaces answers from the hub's cluster-wide watches, starting
// them if they do not run (they then linger, shared by every poller and
// stream): no request per viewer, and counts with the diagnosis. Without
// them it answers from a list shared by every client for nsListTTL:
// however many pages poll it, the API server sees at most one cluster-wide
// LIST per nsListTTL, and the counts of rollouts under way come from their
// namespaces' watches (see countDeployments).
func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) {
	out, e := s.watchedNamespaces(r.Context()), (*apiError)(nil)
	if out == nil {
		out, e = s.nsList.get(r.Context(), "", "the namespaces were listed", s.namespaceList)
	}
	if e == nil {
		out, e = s.visibleNamespaces(r, out)
	}
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// visibleNamespaces is the shared list cut, in AuthKubernetes mode, to the
// namespaces whose Deployments the user may list: one review for the whole
// cluster, else one per namespace (each cached).
func (s *Server) visibleNamespaces(r *http.Request, all *namespaceList) (*namespaceList, *apiError) {
	if s.kube == nil {
		return all, nil
	}
	if e := s.may(r, auth.Access{Verb: "list", Group: "apps", Resource: "deployments"}); e == nil {
		return all, nil
	} else if e.Status != http.StatusForbidden {
		return nil, e
	}
	out := &namespaceList{Namespaces: []namespaceInfo{}}
	for _, ns := range all.Namespaces {
		e := s.may(r, auth.Access{Namespace: ns.Name, Verb: "list", Group: "apps", Resource: "deployments"})
		switch {
		case e == nil:
			out.Namespaces = append(out.Namespaces, ns)
		case e.Status != http.StatusForbidden:
			return nil, e
		}
	}
	return out, nil
}

// watchedNamespaces is the namespace list from the hub's cluster-wide
// watches; nil when serve does not watch cluster-wide or they failed.
func (s *Server) watchedNamespaces(ctx context.Context) *namespaceList {
	counts, ok := s.opts.Hub.CountNamespaces(ctx)
	if !ok {
		return nil
	}
	names := slices.Clone(s.opts.Namespaces)
	if len(names) == 0 {
		names = slices.Collect(maps.Keys(counts))
	}
	sort.Strings(names)
	out := &namespaceList{Namespaces: make([]namespaceInfo, 0, len(names))}
	for _, ns := range names {
		info := namespaceInfo{Name: ns, Deployments: map[deployment.Status]int{}}
		for st, n := range counts[ns] {
			info.Deployments[st] = n
			info.Total += n
		}
		out.Namespaces = append(out.Namespaces, info)
	}
	return out
}

// namespaceList asks the API server for the namespaces and their counts.
func (s *Server) namespaceList(ctx context.Context) (*namespaceList, *apiError) {
	var out namespaceList
	names := slices.Clone(s.opts.Namespaces)
	if len(names) == 0 {
		list, err := s.opts.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		switch {
		case apierrors.IsForbidden(err):
			names = []string{s.opts.DefaultNamespace}
			out.Warning = fmt.Sprintf("you may not list namespaces, so only namespace %q (the kubeconfig's) is shown; restart serve with --namespaces to choose", s.opts.DefaultNamespace)
		case err != nil:
			return nil, fromError(err)
		default:
			for _, ns := range list.Items {
				names = append(names, ns.Name)
			}
		}
	}
	sort.Strings(names)
	counts := s.countDeployments(ctx, names)
	for _, ns := range names {
		out.Namespaces = append(out.Namespaces, counts[ns])
	}
	return &out, nil
}

// Diagnosing namespaces nobody views, for the list's counts.
const (
	// maxDiagnosedNamespaces bounds the namespaces whose watches one list
	// starts; each holds a watch per resource while it is polled and the
	// linger after.
	maxDiagnosedNamespaces = 8
	// diagnoseWait bounds how long a list waits for those watches' first
	// sync.
	diagnoseWait = 5 * time.Second
)

// countDeployments counts the Deployments of each namespace by status, with
// one list across namespaces when the user may, else one per namespace.
// A Deployment's own status cannot say Failing (its pods do), so a
// namespace that has a rollout under way takes its statuses from its
// watch, which carries the diagnosis: the one a viewer has open, else one
// the list starts as a viewer would (see diagnose).
func (s *Server) countDeployments(ctx context.Context, names []string) map[string]namespaceInfo {
	out := make(map[string]namespaceInfo, len(names))
	for _, ns := range names {
		out[ns] = namespaceInfo{Name: ns, Deployments: map[deployment.Status]int{}}
	}
	listed := map[string][]deployment.Summary{}
	all, err := []deployment.Summary(nil), error(nil)
	if len(names) > 1 {
		all, err = s.summaries(ctx, metav1.NamespaceAll)
	}
	if len(names) > 1 && err == nil {
		for _, d := range all {
			listed[d.Namespace] = append(listed[d.Namespace], d)
		}
	} else {
		for _, ns := range names {
			items, err := s.summaries(ctx, ns)
			if err != nil {
				out[ns] = namespaceInfo{Name: ns, Error: fromError(err).Message}
				continue
			}
			listed[ns] = items
		}
	}
	watched := s.diagnose(ctx, names, listed)
	for _, ns := range names {
		info, ok := out[ns]
		if !ok || info.Error != "" {
			continue
		}
		st, diagnosed := watched[ns]
		for _, d := range listed[ns] {
			if w, ok := st[d.Name]; ok {
				d.Status = w
			} else if !diagnosed && mayFail(d.Status) {
				info.Undiagnosed++
			}
			info.Deployments[d.Status]++
			info.Total++
		}
		out[ns] = info
	}
	return out
}

// mayFail: a status read without the diagnosis that the diagnosis could
// make Failing (see deployment.Classify).
func mayFail(st deployment.Status) bool {
	return st == deployment.Progressing || st == deployment.Scaling || st == deployment.Degraded
}

// diagnose returns the statuses, diagnosis included, of the namespaces of
// names that have a watch of their own: those a viewer has open, and those
// whose listed Deployments include one that may be failing, for which it
// starts the watch as a viewer would (shared through the hub, and lingering
// for the next poll), at most maxDiagnosedNamespaces of them, in name
// order, waiting at most diagnoseWait for them.
func (s *Server) diagnose(ctx context.Context, names []string, listed map[string][]deployment.Summary) map[string]map[string]deployment.Status {
	out := map[string]map[string]deployment.Status{}
	var start []string
	for _, ns := range names {
		if st, ok := s.opts.Hub.Statuses(ns); ok {
			out[ns] = st
		} else if slices.ContainsFunc(listed[ns], func(d deployment.Summary) bool { return mayFail(d.Status) }) {
			start = append(start, ns)
		}
	}
	if s.opts.Hub.ClusterWide() || len(start) == 0 {
		return out // with the cluster-wide watch failing, no namespace has one
	}
	start = start[:min(len(start), maxDiagnosedNamespaces)]
	ctx, cancel := context.WithTimeout(ctx, diagnoseWait)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ns := range start {
		wg.Go(func() {
			sub, err := s.opts.Hub.Subscribe(ctx, ns, "")
			if err != nil {
				return // counted undiagnosed
			}
			defer sub.Close()
			if st, ok := s.opts.Hub.Statuses(ns); ok {
				mu.Lock()
				out[ns] = st
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// summaries lists the Deployments of namespace ns (all for "").
func (s *Server) summaries(ctx context.Context, ns string) ([]deployment.Summary, error) {
	list, err := s.opts.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]deployment.Summary, len(list.Items))
	for i := range list.Items {
		out[i] = deployment.Summarize(&list.Items[i], nil)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}
