package server

// readAccess is what watching a namespace's Deployments needs.
func readAccess(ns string) []access {
	return []access{
		{Namespace: ns, Verb: "list", Group: "apps", Resource: "deployments"},
		{Namespace: ns, Verb: "watch", Group: "apps", Resource: "deployments"},
	}
}

// What each change needs of the user in AuthKubernetes mode (the API
// server checks the rest, e.g. get, as the impersonated user).
func scaleAccess(ns string) []access {
	return []access{{Namespace: ns, Verb: "update", Group: "apps", Resource: "deployments", Subresource: "scale"}}
}

func patchAccess(ns string) []access {
	return []access{{Namespace: ns, Verb: "patch", Group: "apps", Resource: "deployments"}}
}

// historyAccess is what a Deployment's revisions need of the user: the
// Deployment and its ReplicaSets.
func historyAccess(ns string) []access {
	return []access{
		{Namespace: ns, Verb: "get", Group: "apps", Resource: "deployments"},
		{Namespace: ns, Verb: "list", Group: "apps", Resource: "replicasets"},
	}
}

// undoAccess: the patch, and the ReplicaSets it reads the revision from.
func undoAccess(ns string) []access {
	return append(patchAccess(ns), access{Namespace: ns, Verb: "list", Group: "apps", Resource: "replicasets"})
}
