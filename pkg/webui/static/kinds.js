// The kinds of workload a namespace's table shows, no DOM: how the server
// names them, how a row is keyed and labelled, and which changes each has
// and this tab may make.

// RESOURCES are each kind's API path segment, under the namespace.
const RESOURCES = { Deployment: "deployments", StatefulSet: "statefulsets", DaemonSet: "daemonsets" };

// SHORT are kubectl's short names, the rows' prefixes.
const SHORT = { Deployment: "deploy", StatefulSet: "sts", DaemonSet: "ds" };

// PERMISSIONS are where GET .../permissions keeps a kind's: a Deployment's
// at its top level, the others' in objects of their own.
const PERMISSIONS = { StatefulSet: "statefulSets", DaemonSet: "daemonSets" };

// kindOf is an event's kind; a summary without one is a Deployment's.
export const kindOf = (ev) => ev.kind || "Deployment";

// rowKey keys a row by kind and name: a Deployment and a StatefulSet of
// one name are two rows.
export const rowKey = (ev) => kindOf(ev) + "/" + ev.name;

// rowLabel is the name a row shows: with its kind's short name ("sts/db")
// when more than one kind is present, as the terminal table does.
export const rowLabel = (kind, name, prefixed) => (prefixed ? (SHORT[kind] || kind) + "/" + name : name);

// workloadPath is the API path of a workload under nsPath (the
// namespace's, /api/namespaces/NS).
export const workloadPath = (nsPath, kind, name) => nsPath + "/" + (RESOURCES[kind] || RESOURCES.Deployment) + "/" + encodeURIComponent(name);

// has reports whether a kind has a change, as kubectl has it: a DaemonSet
// has no scale, only a Deployment pauses and resumes; every kind restarts,
// sets images and has a history to undo to.
export function has(kind, what) {
  if (what === "scale") return kind !== "DaemonSet";
  if (what === "pause" || what === "timeline") return kind === "Deployment";
  return true;
}

// allowed reports whether perms (GET .../permissions) allow what
// (scale, patch, history) on a workload of kind.
export function allowed(perms, kind, what) {
  if (!perms || !has(kind, what)) return false;
  const p = kind === "Deployment" ? perms : perms[PERMISSIONS[kind]];
  return !!(p && p[what]);
}
