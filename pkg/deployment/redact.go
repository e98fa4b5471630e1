package deployment

import (
	"slices"
	"strings"
)

// UndiagnosedMessage replaces a Failing message that was all diagnosis.
const UndiagnosedMessage = "the new pods do not start; the cause is shown to users who may list pods and events in this namespace"

// WithoutDiagnosis is s without what was read from its Pods and Events:
// no Problems, and a Message that does not quote them (Classify words the
// diagnosis into Failing's message, and after Failed's condition message in
// parentheses). For viewers who may read the Deployment but not its Pods
// or Events.
func (s Summary) WithoutDiagnosis() Summary {
	if len(s.Problems) == 0 {
		return s
	}
	s.Problems = nil
	switch s.Status {
	case Failing:
		s.Message = UndiagnosedMessage
	case Failed:
		// "ProgressDeadlineExceeded: <the controller's message> (<cause>)";
		// the controller's message has no " (".
		if i := strings.Index(s.Message, " ("); i >= 0 && strings.HasSuffix(s.Message, ")") {
			s.Message = s.Message[:i]
		}
	}
	return s
}

// WithoutDiagnosis is e with its Summary's WithoutDiagnosis, and no
// "problems" in Changed.
func (e Event) WithoutDiagnosis() Event {
	e.Summary = e.Summary.WithoutDiagnosis()
	if i := slices.Index(e.Changed, "problems"); i >= 0 {
		e.Changed = slices.Delete(slices.Clone(e.Changed), i, i+1) // shared: not in place
	}
	return e
}
