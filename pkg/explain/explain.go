// Package explain turns errors into the one line a user reads: what went
// wrong and what to do about it. Kubeconfig problems (Config), answers of
// the API server and failures to reach it (API) and the errors of the
// operations on a Deployment (Operation) are told apart by their types and
// by the API status reasons, never by their text. The error explained stays
// reachable through errors.Is and errors.As.
//
// The commands print the line; this package prints nothing and knows
// nothing of cobra.
package explain

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// Error replaces an error's message with one that says what to do, keeping
// the original for errors.Is and errors.As.
type Error struct {
	msg string
	err error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

// New explains err with a message of its own.
func New(err error, format string, args ...any) error {
	return &Error{msg: fmt.Sprintf(format, args...), err: err}
}

// Config turns a kubeconfig problem into one line that says what to fix.
func Config(err error) error {
	switch {
	case clientcmd.IsEmptyConfig(err):
		return fmt.Errorf("no cluster configured: set --kubeconfig or KUBECONFIG, or run inside a cluster: %w", err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot read kubeconfig: %w; check the --kubeconfig path or KUBECONFIG", err)
	case clientcmd.IsContextNotFound(err):
		return New(err, "%s; list the contexts with 'kubectl config get-contexts'", contextNotFound(err))
	case clientcmd.IsConfigurationInvalid(err):
		return fmt.Errorf("invalid kubeconfig: %w; check it with 'kubectl config view'", err)
	}
	return err
}

// contextNotFound is client-go's own words for a context that is not there,
// without the "invalid configuration: " of the list of problems it comes in.
func contextNotFound(err error) string {
	var all utilerrors.Aggregate
	if errors.As(err, &all) {
		for _, e := range all.Errors() {
			if clientcmd.IsContextNotFound(e) {
				return e.Error()
			}
		}
	}
	return err.Error()
}

// API turns an error from the API server at host, or from failing to reach
// it, into one line that names the problem and the fix. hint says what to do
// about a 403; "" suggests 'kubectl auth can-i'.
func API(err error, host, hint string) error {
	if err == nil {
		return nil
	}
	var urlErr *url.Error
	var netErr net.Error
	switch {
	case apierrors.IsForbidden(err):
		if hint == "" {
			hint = "check your permissions with 'kubectl auth can-i'"
		}
		return New(err, "%s; %s", Message(err), hint)
	case apierrors.IsUnauthorized(err):
		return New(err, "the API server at %s rejected your credentials (401 Unauthorized); log in again or check --user and --token", host)
	case errors.As(err, &urlErr) || errors.As(err, &netErr):
		return New(err, "cannot reach the API server at %s: %s; check that the cluster is running and that --context, --server or --kubeconfig point at it", host, RootCause(err))
	}
	return err
}

// Described is an error whose message already says what is wrong and what
// to do, as pkg/operations' errors do: Operation keeps its words.
type Described interface {
	error
	// TargetNotFound reports whether the error says that the object the
	// request named does not exist.
	TargetNotFound() bool
}

// Target is the workload an operation acted on, and where to ask about it.
type Target struct {
	// Noun is the workload's kind as messages name it ("statefulset");
	// "" is a Deployment.
	Noun string
	// Host is the API server, named when it cannot be reached.
	Host string
	// Namespaces is asked whether the namespace exists.
	Namespaces      corev1client.NamespacesGetter
	Namespace, Name string
}

// Operation turns an error of an operation on t into one line. A Described
// error keeps its words, but for a Deployment not found in a namespace that
// does not exist either: that is said once, as the namespace's, since "not
// found in namespace" with a hint to list its Deployments cannot help. Any
// other error is explained as API explains it.
func Operation(ctx context.Context, err error, t Target) error {
	var described Described
	if !errors.As(err, &described) {
		return API(err, t.Host, "")
	}
	if described.TargetNotFound() {
		if _, nsErr := t.Namespaces.Namespaces().Get(ctx, t.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(nsErr) {
			noun := t.Noun
			if noun == "" {
				noun = "deployment"
			}
			return New(err, "%s %q not found: namespace %q does not exist; list namespaces with 'kubectl get namespaces'", noun, t.Name, t.Namespace)
		}
	}
	return New(err, "%s", described.Error())
}

// Message is the API server's own message in err, without what wrapped it;
// err's text when it holds no API status, or one without a message.
func Message(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

// RootCause is the message of the innermost error err wraps.
func RootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
