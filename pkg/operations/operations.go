// Package operations changes workloads safely (Deployments, and
// StatefulSets and DaemonSets where kubectl allows the change, see kind.go):
// it scales them through the scale subresource and sets container images
// with a guarded JSON patch, validating every input before the first
// request, honouring preconditions without ever overwriting a concurrent
// edit, and writing nothing when asked for what is already there. Package gate follows the rollout a change
// started. GetHistory, Undo, Restart and SetPaused read and steer rollouts (rollout.go).
//
// It is shared by the CLI (`scale`, `set-image`, `history`, `undo`,
// `restart`, `pause`, `resume`) and the web API of `serve`,
// so it knows nothing of cobra or HTTP: it takes the narrowest client
// interface (WorkloadsGetter, RolloutClient) and returns *Error values whose
// Reason the callers map to an exit message or an HTTP status.
package operations

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
)

// DryRunMode says whether a change is written: as kubectl's --dry-run.
type DryRunMode string

const (
	// DryRunNone writes the change.
	DryRunNone DryRunMode = "none"
	// DryRunClient validates and reads, and computes the result locally
	// without sending the write.
	DryRunClient DryRunMode = "client"
	// DryRunServer sends the write with dryRun=All: the API server runs
	// admission and validation but persists nothing.
	DryRunServer DryRunMode = "server"
)

// DryRunModes are the values ParseDryRun accepts.
var DryRunModes = []DryRunMode{DryRunNone, DryRunClient, DryRunServer}

// ParseDryRun turns "none", "client" or "server" (or "" for none) into a mode.
func ParseDryRun(s string) (DryRunMode, error) {
	switch DryRunMode(s) {
	case "", DryRunNone:
		return DryRunNone, nil
	case DryRunClient, DryRunServer:
		return DryRunMode(s), nil
	}
	return "", &Error{Reason: BadRequest, Problems: []Problem{{Field: "dryRun",
		Message: fmt.Sprintf("unknown dry-run mode %q: use none, client or server", s)}}}
}

// Suffix is what kubectl appends to its output for this mode.
func (m DryRunMode) Suffix() string {
	switch m {
	case DryRunClient:
		return " (dry run)"
	case DryRunServer:
		return " (server dry run)"
	}
	return ""
}

// Reason classifies an Error. The HTTP layer maps each to a status code.
type Reason string

const (
	BadRequest Reason = "BadRequest" // invalid input: 400
	NotFound   Reason = "NotFound"   // no such Deployment or namespace: 404
	Forbidden  Reason = "Forbidden"  // RBAC refused: 403
	Conflict   Reason = "Conflict"   // a precondition does not hold: 409
	Invalid    Reason = "Invalid"    // the API server refused the change: 422
	Failed     Reason = "Failed"     // package gate's Wait: the rollout failed or cannot go on
)

// Problem is one thing wrong with a request; Field names the request field
// (namespace, name, replicas, currentReplicas, resourceVersion, dryRun,
// images) so that a form can show it in place.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is what every operation returns for a problem its caller can act on.
// Error() is one line: the message, then the hint.
type Error struct {
	Reason Reason `json:"reason"`
	// Message says what is wrong; with Problems it is their messages joined.
	Message string `json:"message"`
	// Hint says what to do about it, as a command line where there is one.
	Hint string `json:"hint,omitempty"`
	// Problems lists every invalid input, for BadRequest.
	Problems []Problem `json:"problems,omitempty"`
	// Err is the API server's error, if it came from one.
	Err error `json:"-"`
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		parts := make([]string, len(e.Problems))
		for i, p := range e.Problems {
			parts[i] = p.Message
		}
		msg = strings.Join(parts, "; ")
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// TargetNotFound reports whether e says that the Deployment the request
// named does not exist (a revision that does not exist is NotFound too, and
// lists itself in Problems), so that package explain may tell when its
// namespace is missing as well.
func (e *Error) TargetNotFound() bool { return e.Reason == NotFound && len(e.Problems) == 0 }

// ReasonOf returns the Reason of err, or "" when err is no *Error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// ProblemsOf returns the problems of a BadRequest error, or nil.
func ProblemsOf(err error) []Problem {
	var e *Error
	if errors.As(err, &e) {
		return e.Problems
	}
	return nil
}

func badRequest(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return &Error{Reason: BadRequest, Problems: problems}
}

// Change is one field a request changes (or would change, or found as
// asked): "replicas", "container NAME" or "init container NAME".
type Change struct {
	What string `json:"what"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Result is the outcome of a change.
type Result struct {
	// Kind is the workload's; empty for a Deployment.
	Kind      Kind   `json:"kind,omitempty"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Changed is false when the Deployment already was as asked: nothing was
	// written, whatever the dry-run mode.
	Changed bool       `json:"changed"`
	DryRun  DryRunMode `json:"dryRun"`
	// Changes lists what differs (Changed) or what was asked for (not Changed).
	Changes []Change `json:"changes"`
	// Object is what the API server returned (for a client dry run, the
	// object as it would be): an *autoscalingv1.Scale for Scale, an
	// *appsv1.Deployment for SetImages. Its TypeMeta is not set.
	Object runtime.Object `json:"-"`
	// ResourceVersion of the Deployment after the change.
	ResourceVersion string `json:"resourceVersion"`
	// Generation of the Deployment after the change; 0 when the response
	// does not tell it (the scale subresource carries no generation).
	Generation int64 `json:"generation,omitempty"`
	// Replicas is the desired count after a Scale.
	Replicas *int32 `json:"replicas,omitempty"`
	// Autoscalers that set the Deployment's replicas, which a Scale's
	// caller found with Autoscalers; Warning says what they mean for it.
	Autoscalers []Autoscaler `json:"autoscalers,omitempty"`
	// Warning is one line the user should read: a scale that an
	// autoscaler will undo.
	Warning string `json:"warning,omitempty"`
}

// validateTarget checks the fields every request has.
func validateTarget(k Kind, namespace, name string, dryRun DryRunMode) []Problem {
	var ps []Problem
	switch {
	case namespace == "":
		ps = append(ps, Problem{"namespace", "no namespace given"})
	default:
		if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
			ps = append(ps, Problem{"namespace", fmt.Sprintf("invalid namespace %q: %s", namespace, errs[0])})
		}
	}
	switch {
	case name == "":
		ps = append(ps, Problem{"name", fmt.Sprintf("no %s name given", k.Noun())})
	default:
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			ps = append(ps, Problem{"name", fmt.Sprintf("invalid %s name %q: %s", k.Noun(), name, errs[0])})
		}
	}
	if !k.valid() {
		ps = append(ps, Problem{"kind", fmt.Sprintf("unknown kind %q: use Deployment, StatefulSet or DaemonSet", string(k))})
	}
	if _, err := ParseDryRun(string(dryRun)); err != nil {
		ps = append(ps, ProblemsOf(err)...)
	}
	return ps
}

// access describes what an operation needs, for Forbidden hints.
type access struct {
	op          string // "scale"
	verbs       string // "get and update"
	subresource string // "scale", or "" for the object itself
	canIVerb    string // "update"
	// kind is the workload's; the zero value is a Deployment.
	kind Kind
}

// of is a for a workload of kind k.
func (a access) of(k Kind) access { a.kind = k; return a }

// resource is what RBAC must allow: "deployments/scale".
func (a access) resource() string {
	if a.subresource == "" {
		return a.kind.Resource()
	}
	return a.kind.Resource() + "/" + a.subresource
}

var (
	scaleAccess = access{op: "scale", verbs: "get and update", subresource: "scale", canIVerb: "update"}
	imageAccess = access{op: "set-image", verbs: "get and patch", canIVerb: "patch"}
	waitAccess  = access{op: "--wait", verbs: "list and watch", canIVerb: "watch"}
)

// WaitError is what an error of the watch that follows a change (package
// gate) means, in the words of the change's own errors.
func WaitError(k Kind, err error, namespace, name string) error {
	return apiError(err, namespace, name, waitAccess.of(k))
}

// NotFoundError is the *Error for the workload of kind k named name
// missing from namespace.
func NotFoundError(k Kind, namespace, name string) error { return notFound(k, namespace, name, nil) }

// apiError turns an error from the API server into an *Error for the
// reasons a caller can act on, and wraps any other.
func apiError(err error, namespace, name string, a access) error {
	if err == nil {
		return nil
	}
	e := &Error{Err: err}
	switch {
	case apierrors.IsNotFound(err):
		return notFound(a.kind, namespace, name, err)
	case apierrors.IsForbidden(err):
		e.Reason = Forbidden
		e.Message = explain.Message(err)
		options := ""
		if a.subresource != "" {
			options = " --subresource=" + a.subresource
		}
		e.Hint = fmt.Sprintf("%s needs %s on %s in namespace %q; check with 'kubectl auth can-i %s %s%s -n %s'",
			a.op, a.verbs, a.resource(), namespace, a.canIVerb, a.kind.Resource(), options, namespace)
	case apierrors.IsConflict(err):
		e.Reason = Conflict
		e.Message = fmt.Sprintf("%s %q in namespace %q changed while it was being written: %s", a.kind.Noun(), name, namespace, explain.Message(err))
		e.Hint = "nothing was changed; try again"
	case apierrors.IsInvalid(err):
		e.Reason = Invalid
		e.Message = explain.Message(err)
	case apierrors.IsBadRequest(err):
		e.Reason = BadRequest
		e.Message = explain.Message(err)
	default:
		return fmt.Errorf("%s %s %q in namespace %q: %w", a.op, a.kind.Noun(), name, namespace, err)
	}
	return e
}

func notFound(k Kind, namespace, name string, err error) error {
	return &Error{
		Reason:  NotFound,
		Message: fmt.Sprintf("%s %q not found in namespace %q", k.Noun(), name, namespace),
		Hint:    fmt.Sprintf("list them with 'kubectl get %s -n %s'", k.Resource(), namespace),
		Err:     err,
	}
}

// maxAttempts bounds the re-reads after a write lost a race with another
// writer: each attempt re-checks everything against the new state.
const maxAttempts = 5

func preconditionFailed(k Kind, namespace, name, what string) error {
	return &Error{
		Reason:  Conflict,
		Message: fmt.Sprintf("precondition failed: %s %q in namespace %q %s; nothing was changed", k.Noun(), name, namespace, what),
		Hint:    fmt.Sprintf("read its current state with 'kubectl get %s %s -n %s -o yaml' and try again", k.Noun(), name, namespace),
	}
}
