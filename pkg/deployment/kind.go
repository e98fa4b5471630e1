package deployment

import (
	"fmt"
	"slices"
	"strings"
)

// Kinds of workload a summary can be of: the value of Summary.Kind.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
)

// Kinds are every kind deploywatch follows, in the order views name them.
var Kinds = []string{KindDeployment, KindStatefulSet, KindDaemonSet}

// kindNames are the names kubectl accepts for each kind.
var kindNames = map[string]string{
	"deployment": KindDeployment, "deployments": KindDeployment, "deploy": KindDeployment,
	"statefulset": KindStatefulSet, "statefulsets": KindStatefulSet, "sts": KindStatefulSet,
	"daemonset": KindDaemonSet, "daemonsets": KindDaemonSet, "ds": KindDaemonSet,
}

// ParseKinds reads a comma-separated list of kinds as kubectl names them
// (deployment, deployments, deploy; statefulset, statefulsets, sts;
// daemonset, daemonsets, ds), in any case, into Kinds' order without
// repeats.
func ParseKinds(list string) ([]string, error) {
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		kind, ok := kindNames[name]
		if !ok {
			return nil, fmt.Errorf("unknown kind %q: use deploy, sts or ds (or deployment, statefulset, daemonset), comma-separated", name)
		}
		seen[kind] = true
	}
	var out []string
	for _, k := range Kinds {
		if seen[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// kindOf is s's kind; a summary without one is a Deployment's (as every
// summary was before other kinds).
func (s *Summary) kindOf() string {
	if s.Kind == "" {
		return KindDeployment
	}
	return s.Kind
}

// Noun names s's kind in messages, as kubectl's resource names do:
// "deployment", "statefulset", "daemonset".
func (s *Summary) Noun() string { return strings.ToLower(s.kindOf()) }

// ShortName is s's name after its kind's short name, as kubectl takes it:
// "deploy/web", "sts/db", "ds/agent".
func (s *Summary) ShortName() string { return ShortKind(s.kindOf()) + "/" + s.Name }

// ShortKind is kubectl's short name of kind ("deploy", "sts", "ds").
func ShortKind(kind string) string {
	switch kind {
	case KindStatefulSet:
		return "sts"
	case KindDaemonSet:
		return "ds"
	}
	return "deploy"
}

// KindsNoun names what a view of these kinds holds, in the plural:
// "deployments" for Deployments alone (or none), else the kinds listed
// ("statefulsets", "deployments, statefulsets and daemonsets").
func KindsNoun(kinds []string) string {
	var names []string
	for _, k := range Kinds {
		if slices.Contains(kinds, k) {
			names = append(names, strings.ToLower(k)+"s")
		}
	}
	switch len(names) {
	case 0:
		return "deployments"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
