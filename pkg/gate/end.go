package gate

import "strings"

// Outcome says how a wait that did not pass ended; the command turns it
// into its exit code.
type Outcome int

const (
	// Failed: a rollout failed or cannot go on, or a source could not be
	// watched during the whole wait.
	Failed Outcome = iota + 1
	// TimedOut: the wait's timeout ran out first.
	TimedOut
	// Interrupted: the wait's context was canceled (a signal).
	Interrupted
)

// Error is the closing error of a wait that did not pass: Message is the
// one line users read, Err (if any) what caused it, for errors.Is and
// errors.As.
type Error struct {
	Outcome Outcome
	Message string
	Err     error
	// Failures, when rollouts failed, are every Deployment that failed,
	// each with its next steps: those that ended the wait first, then
	// those Failing still within their grace, each group in the order
	// views list them. Message is the first's.
	Failures []RolloutFailure
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// oneLine puts a multi-line error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
