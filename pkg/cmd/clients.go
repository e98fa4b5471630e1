package cmd

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
	"github.com/deploywatch/kubectl-deploywatch/pkg/outage"
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
	if cf, ok := getter.(*genericclioptions.ConfigFlags); ok && cf.Context != nil && strings.Contains(*cf.Context, ",") {
		return nil, fmt.Errorf("--context %q names several contexts, and this command acts on one at a time: give one context (only watch and serve take several)", *cf.Context)
	}
	loader := getter.ToRawKubeConfigLoader()
	if err := contextMissing(getter, loader); err != nil {
		return nil, explain.Config(err)
	}
	ns, explicit, err := loader.Namespace()
	if err != nil {
		return nil, explain.Config(err)
	}
	config, err := getter.ToRESTConfig()
	if err != nil {
		return nil, explain.Config(err)
	}
	return clientsFor(config, ns, explicit)
}

// contextMissing reports a --context that the kubeconfig does not have, in
// client-go's own error. Without this check client-go says it in a typed
// error or in an untyped one ("context %q does not exist"), depending on
// whether -n was given too.
func contextMissing(getter genericclioptions.RESTClientGetter, loader clientcmd.ClientConfig) error {
	cf, ok := getter.(*genericclioptions.ConfigFlags)
	if !ok || cf.Context == nil || *cf.Context == "" {
		return nil
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return nil // the loader reports it again, explained
	}
	if _, ok := raw.Contexts[*cf.Context]; ok {
		return nil
	}
	if err := clientcmd.ConfirmUsable(raw, *cf.Context); clientcmd.IsContextNotFound(err) {
		return err
	}
	return nil
}

// clientsFor builds the clients of one REST config.
func clientsFor(config *rest.Config, ns string, explicit bool) (*clients, error) {
	config = rest.CopyConfig(config)
	config.ContentType = "application/vnd.kubernetes.protobuf"
	config.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	config.UserAgent = "kubectl-deploywatch"
	// A watch tool issues few requests; the defaults (QPS 5) would throttle
	// the burst of a large relist or a busy web page.
	config.QPS, config.Burst = 50, 100
	// While the API server does not answer, the informers' reconnection
	// attempts share one backoff instead of each making its own.
	new(outage.Breaker).Install(config)
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, explain.Config(err)
	}
	return &clients{Kube: kube, Config: config, Namespace: ns, ExplicitNamespace: explicit}, nil
}

// target is what explain.Operation needs to explain an error about
// Deployment name in the clients' namespace.
func (c *clients) target(name string) explain.Target {
	return explain.Target{Host: c.Config.Host, Namespaces: c.Kube.CoreV1(), Namespace: c.Namespace, Name: name}
}

// contextClients are the clients of one kubeconfig context of a view over
// several.
type contextClients struct {
	Name string
	*clients
}

// kubeconfigContexts returns the kubeconfig's contexts, sorted, loaded as
// kubectl loads them (--kubeconfig, else KUBECONFIG, else ~/.kube/config).
func kubeconfigContexts(cf *genericclioptions.ConfigFlags) (*clientcmdapi.Config, []string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if cf.KubeConfig != nil && *cf.KubeConfig != "" {
		rules.ExplicitPath = *cf.KubeConfig
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, nil, explain.Config(err)
	}
	names := make([]string, 0, len(raw.Contexts))
	for name := range raw.Contexts {
		names = append(names, name)
	}
	sort.Strings(names)
	return raw, names, nil
}

// severalContexts returns the clients of each context named by --context
// a,b or, with all, of every context of the kubeconfig; nil when one
// context is used (--context a, or none), which newClients serves.
func severalContexts(cf *genericclioptions.ConfigFlags, all bool) ([]contextClients, error) {
	var contexts []string
	if cf.Context != nil {
		contexts = splitList(*cf.Context)
	}
	if !all && len(contexts) <= 1 {
		return nil, nil
	}
	raw, names, err := kubeconfigContexts(cf)
	if err != nil {
		return nil, err
	}
	if all && len(contexts) == 0 {
		contexts = names
	}
	if len(contexts) == 0 {
		return nil, errors.New("--all-contexts: the kubeconfig has no contexts; add one with 'kubectl config set-context'")
	}
	return newContextClients(cf, raw, contexts)
}

// newContextClients builds one set of clients per named context, each with
// the context's own cluster, user and namespace. Of kubectl's flags only
// those that mean the same for every context apply (--request-timeout,
// --as...); WatchOptions.Validate refuses the others.
func newContextClients(cf *genericclioptions.ConfigFlags, raw *clientcmdapi.Config, names []string) ([]contextClients, error) {
	overrides := &clientcmd.ConfigOverrides{}
	if cf.Timeout != nil {
		overrides.Timeout = *cf.Timeout
	}
	if cf.Impersonate != nil {
		overrides.AuthInfo.Impersonate = *cf.Impersonate
	}
	if cf.ImpersonateUID != nil {
		overrides.AuthInfo.ImpersonateUID = *cf.ImpersonateUID
	}
	if cf.ImpersonateGroup != nil {
		overrides.AuthInfo.ImpersonateGroups = *cf.ImpersonateGroup
	}
	out := make([]contextClients, 0, len(names))
	for _, name := range names {
		if _, ok := raw.Contexts[name]; !ok {
			return nil, fmt.Errorf("context %q not found in the kubeconfig; list the contexts with 'kubectl config get-contexts'", name)
		}
		cc := clientcmd.NewNonInteractiveClientConfig(*raw, name, overrides, nil)
		ns, _, err := cc.Namespace()
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", name, explain.Config(err))
		}
		config, err := cc.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", name, explain.Config(err))
		}
		c, err := clientsFor(config, ns, false)
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", name, err)
		}
		out = append(out, contextClients{Name: name, clients: c})
	}
	return out, nil
}

// contextList is the --context flag: repeatable, each value a context or a
// comma-separated list of them, kept as one comma-separated string in
// ConfigFlags.Context so that the single-context commands see what was given.
type contextList struct {
	p   *string
	set bool
}

func (c *contextList) String() string { return *c.p }
func (c *contextList) Type() string   { return "string" }

func (c *contextList) Set(v string) error {
	if c.set && *c.p != "" {
		v = *c.p + "," + v
	}
	*c.p, c.set = v, true
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items and
// repeats.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item != "" && !slices.Contains(out, item) {
			out = append(out, item)
		}
	}
	return out
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
