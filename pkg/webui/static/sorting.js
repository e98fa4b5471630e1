// The orders of the table and of the namespace list's counts, no DOM.

// statusRank is the place of status s in order, the server's status order
// (GET /api/info's statuses, what needs attention first); a status it does
// not list comes last.
export function statusRank(order, s) {
  const i = order.indexOf(s);
  return i < 0 ? order.length : i;
}

// byStatus is a namespace's counts ({status: n}) as [status, n] pairs in
// the status order.
export function byStatus(counts, order) {
  return Object.entries(counts || {}).sort((a, b) => statusRank(order, a[0]) - statusRank(order, b[0]));
}

// SORTS are the orders of the table, as k9s offers them: by name, by
// status with what needs attention first (then by name), by last change
// with the most recent first.
export const SORTS = {
  name: { label: "Name" },
  status: { label: "Status (failed first)" },
  last: { label: "Last change (recent first)" },
};

// parseSort reads the address's sort ("status", "-last"): an unknown key is
// the name order; a leading "-" reverses it.
export function parseSort(value) {
  const v = value || "";
  const key = v.replace(/^-/, "");
  return { key: Object.hasOwn(SORTS, key) ? key : "name", descending: v.startsWith("-") };
}

// compareRows orders rows ({name, status, time}, and label when shown
// names differ from name: "sts/db") by key, ties by the name shown;
// descending reverses both.
export function compareRows(key, descending, order) {
  const cmp = {
    name: () => 0,
    status: (a, b) => statusRank(order, a.status) - statusRank(order, b.status),
    last: (a, b) => Date.parse(b.time) - Date.parse(a.time),
  }[key];
  const sign = descending ? -1 : 1;
  const shown = (r) => r.label || r.name;
  return (a, b) => sign * (cmp(a, b) || (shown(a) < shown(b) ? -1 : shown(a) > shown(b) ? 1 : 0));
}
