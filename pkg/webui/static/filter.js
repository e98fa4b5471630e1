// The table's filter, no DOM: it keeps the Deployments whose name or an
// image contains what was typed, in any case.

// matches reports whether a Deployment (its name and images) passes query.
export function matches(query, name, images) {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  if (name.toLowerCase().includes(q)) return true;
  return (images || []).some((image) => image.toLowerCase().includes(q));
}

// filterText is what the toolbar says (shown) and what shows when no row
// does (empty), for shown of total rows.
export function filterText(query, shown, total) {
  const q = query.trim();
  return {
    shown: q ? shown + " of " + total + " shown" : "",
    empty: q && total ? "No deployment matches \u201c" + q + "\u201d (Escape clears the filter)." : "No deployments in this namespace.",
  };
}
