package cmd

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// clients are what a command needs to talk to the cluster, built once in
// Complete from kubectl's config flags.
type clients struct {
	Kube   kubernetes.Interface
	Config *rest.Config
	// Namespace is -n, or the kubeconfig context's namespace, or "default".
	Namespace string
	// ExplicitNamespace is true when -n was given.
	ExplicitNamespace bool
}

// newClients resolves kubeconfig, context and namespace the way kubectl does,
// and speaks protobuf to the API server: it is smaller and faster to decode
// than JSON for the large lists a watch starts with.
func newClients(getter genericclioptions.RESTClientGetter) (*clients, error) {
	ns, explicit, err := getter.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, explainConfigError(err)
	}
	config, err := getter.ToRESTConfig()
	if err != nil {
		return nil, explainConfigError(err)
	}
	config = rest.CopyConfig(config)
	config.ContentType = "application/vnd.kubernetes.protobuf"
	config.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	config.UserAgent = "kubectl-deploywatch"
	// A watch tool issues few requests; the defaults (QPS 5) would throttle
	// the burst of a large relist or a busy web page.
	config.QPS, config.Burst = 50, 100
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, explainConfigError(err)
	}
	return &clients{Kube: kube, Config: config, Namespace: ns, ExplicitNamespace: explicit}, nil
}

// explainConfigError turns kubeconfig problems into one line that says what to fix.
func explainConfigError(err error) error {
	switch {
	case clientcmd.IsEmptyConfig(err):
		return fmt.Errorf("no cluster configured: set --kubeconfig or KUBECONFIG, or run inside a cluster: %w", err)
	case os.IsNotExist(err) || errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("cannot read kubeconfig: %w; check the --kubeconfig path or KUBECONFIG", err)
	case strings.Contains(err.Error(), "context was not found"), strings.Contains(err.Error(), "context") && strings.Contains(err.Error(), "does not exist"):
		return explained(err, "%s; list the contexts with 'kubectl config get-contexts'", strings.TrimPrefix(err.Error(), "invalid configuration: "))
	case clientcmd.IsConfigurationInvalid(err):
		return fmt.Errorf("invalid kubeconfig: %w; check it with 'kubectl config view'", err)
	}
	return err
}

// explainAPIError turns an error from the API server, or from failing to
// reach it, into one line that names the problem and the fix.
func explainAPIError(err error, config *rest.Config, hint string) error {
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
		return explained(err, "%s; %s", apiMessage(err), hint)
	case apierrors.IsUnauthorized(err):
		return explained(err, "the API server at %s rejected your credentials (401 Unauthorized); log in again or check --user and --token", config.Host)
	case errors.As(err, &urlErr) || errors.As(err, &netErr):
		return explained(err, "cannot reach the API server at %s: %s; check that the cluster is running and that --context, --server or --kubeconfig point at it", config.Host, rootCause(err))
	}
	return err
}

// explainedError replaces an error's message with one that says what to do,
// keeping the original for errors.Is and errors.As.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

func explained(err error, format string, args ...any) error {
	return &explainedError{msg: fmt.Sprintf(format, args...), err: err}
}

func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// completeNamespaces offers namespace names for shell completion.
func completeNamespaces(getter genericclioptions.RESTClientGetter) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return namespaceNames(cmd.Context(), getter, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}
