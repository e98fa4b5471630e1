package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
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
	Error       string                    `json:"error,omitempty"`
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
// LIST per nsListTTL.
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

// countDeployments counts the Deployments of each namespace by status, with
// one list across namespaces when the user may, else one per namespace.
func (s *Server) countDeployments(ctx context.Context, names []string) map[string]namespaceInfo {
	out := make(map[string]namespaceInfo, len(names))
	for _, ns := range names {
		out[ns] = namespaceInfo{Name: ns, Deployments: map[deployment.Status]int{}}
	}
	// A namespace someone views has a watch of its own, whose statuses
	// carry the diagnosis (Failing where the list says Progressing).
	watched := map[string]map[string]deployment.Status{}
	for _, ns := range names {
		if st, ok := s.opts.Hub.Statuses(ns); ok {
			watched[ns] = st
		}
	}
	add := func(items []deployment.Summary) {
		for _, d := range items {
			if st, ok := watched[d.Namespace][d.Name]; ok {
				d.Status = st
			}
			if info, ok := out[d.Namespace]; ok {
				info.Deployments[d.Status]++
				info.Total++
				out[d.Namespace] = info
			}
		}
	}
	if len(names) > 1 {
		if all, err := s.summaries(ctx, metav1.NamespaceAll); err == nil {
			add(all)
			return out
		}
	}
	for _, ns := range names {
		items, err := s.summaries(ctx, ns)
		if err != nil {
			out[ns] = namespaceInfo{Name: ns, Error: fromError(err).Message}
			continue
		}
		add(items)
	}
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
