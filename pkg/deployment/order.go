package deployment

import "slices"

// statusOrder is every Status with what needs attention first, as an
// on-call reads them: a rollout that failed or will not finish, replicas
// missing with nothing under way, then what is changing, and what is well
// last. docs/watch.md documents it.
var statusOrder = [...]Status{Failed, Failing, Degraded, Deleting, Paused, Progressing, Scaling, ScaledToZero, Running}

// Statuses returns every Status, the worst first: the one order of the live
// table's counts and of the page (served to it by GET /api/info), so the
// two never disagree.
func Statuses() []Status { return slices.Clone(statusOrder[:]) }
