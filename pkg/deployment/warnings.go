package deployment

import (
	"slices"

	"github.com/deploywatch/kubectl-deploywatch/pkg/safety"
)

// Warning is one rollout-safety rule that fires on a Deployment (see
// package safety): a setting that makes a rollout or a drain cost requests.
type Warning struct {
	// ID is the rule's stable id, e.g. "no-prestop".
	ID    string       `json:"id"`
	Level safety.Level `json:"level"`
	// Container is the container it is about, when it is about one.
	Container string `json:"container,omitempty"`
	Message   string `json:"message"`
	Fix       string `json:"fix"`
}

// WarningsOf turns findings into a summary's warnings, nil when none.
func WarningsOf(fs []safety.Finding) []Warning {
	if len(fs) == 0 {
		return nil
	}
	out := make([]Warning, len(fs))
	for i, f := range fs {
		out[i] = Warning{ID: f.Rule, Level: f.Level, Container: f.Container, Message: f.Message, Fix: f.Fix}
	}
	return out
}

func changedWarnings(prev, next []Warning) bool { return !slices.Equal(prev, next) }
