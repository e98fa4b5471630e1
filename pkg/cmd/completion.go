package cmd

import (
	"context"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/pkg/printers"
)

// Shell completion: cobra's own scripts (`completion bash|zsh|fish`) and
// kubectl 1.26+, which runs kubectl_complete-deploywatch from PATH (a script
// that calls `kubectl-deploywatch __complete ...`), both end here. Arguments
// complete in each command's ValidArgsFunction; flags here.

type completionFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// fileFlags take a path: the shell completes file names for them.
var fileFlags = []string{"kubeconfig", "cache-dir", "certificate-authority", "client-certificate", "client-key", "token-file"}

// registerCompletions gives every flag of the tree below root that takes a
// value a completion: names from the cluster or the kubeconfig, a flag's
// fixed values, or, for a free value (a count, a duration, a selector),
// nothing rather than the shell's file names. Commands without arguments
// complete none either.
func registerCompletions(root *cobra.Command, getter genericclioptions.RESTClientGetter) {
	namespaces := func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return namespaceNames(cmd.Context(), getter, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	namespaceList := func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return commaList(namespaceNames(cmd.Context(), getter, ""), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	byName := map[string]completionFunc{
		"namespace":                 namespaces,
		"leader-election-namespace": namespaces,
		"namespaces":                namespaceList,
		"notify-namespaces":         namespaceList,
		"context":                   kubeconfigNames(getter, func(c *clientcmdapi.Config) map[string]bool { return keys(c.Contexts) }),
		"cluster":                   kubeconfigNames(getter, func(c *clientcmdapi.Config) map[string]bool { return keys(c.Clusters) }),
		"user":                      kubeconfigNames(getter, func(c *clientcmdapi.Config) map[string]bool { return keys(c.AuthInfos) }),
		"dry-run":                   fixed(operations.DryRunModes...),
		"notify-format":             fixed(webhook.JSON, webhook.Slack),
		"notify-on": func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return commaList(strs(webhook.Kinds...), toComplete), cobra.ShellCompDirectiveNoFileComp
		},
		"leader-elect-resource-namespace": namespaces, // leader-election-namespace is its former name
	}
	// -o differs by command; the commands that change a Deployment print
	// the result with kubectl's print flags.
	changeOutputs := fixed(genericclioptions.NewPrintFlags("").AllowedFormats()...)
	outputs := map[string]completionFunc{
		root.Name(): fixed(printers.Formats...),
		"watch":     fixed(printers.Formats...),
		"history":   fixed(historyFormats...),
		"version":   fixed("json"),
	}
	done := map[*pflag.Flag]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Args != nil && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = cobra.NoFileCompletions // serve, version
		}
		register := func(f *pflag.Flag) {
			if done[f] || f.Value.Type() == "bool" || slices.Contains(fileFlags, f.Name) {
				return
			}
			done[f] = true
			fn := byName[f.Name]
			if f.Name == "output" {
				if fn = outputs[c.Name()]; fn == nil {
					fn = changeOutputs
				}
			}
			if fn == nil {
				fn = cobra.NoFileCompletions
			}
			_ = c.RegisterFlagCompletionFunc(f.Name, fn) // fails only for a name registered twice, which done prevents
		}
		c.PersistentFlags().VisitAll(register)
		c.LocalNonPersistentFlags().VisitAll(register)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// namespaceNames lists the cluster's namespaces that start with prefix;
// nothing when the cluster cannot be read (completion prints no errors).
func namespaceNames(ctx context.Context, getter genericclioptions.RESTClientGetter, prefix string) []string {
	c, err := newClients(getter)
	if err != nil {
		return nil
	}
	list, err := c.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var names []string
	for _, ns := range list.Items {
		if strings.HasPrefix(ns.Name, prefix) {
			names = append(names, ns.Name)
		}
	}
	return names
}

// kubeconfigNames completes the names of one kind of kubeconfig entry, read
// with --kubeconfig and KUBECONFIG as every command reads them.
func kubeconfigNames(getter genericclioptions.RESTClientGetter, names func(*clientcmdapi.Config) map[string]bool) completionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		raw, err := getter.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for n := range names(&raw) {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func keys[V any](m map[string]V) map[string]bool {
	s := make(map[string]bool, len(m))
	for k := range m {
		s[k] = true
	}
	return s
}

func strs[S ~string](v ...S) []string {
	out := make([]string, len(v))
	for i := range v {
		out[i] = string(v[i])
	}
	return out
}

// fixed completes one of values.
func fixed[S ~string](values ...S) completionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, v := range strs(values...) {
			if strings.HasPrefix(v, toComplete) {
				out = append(out, v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// commaList completes the last element of a comma-separated list: the
// candidates not listed yet, each after what was typed before it.
func commaList(candidates []string, toComplete string) []string {
	i := strings.LastIndex(toComplete, ",")
	done, last := strings.Split(toComplete[:max(i, 0)], ","), toComplete[i+1:]
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, last) && !slices.Contains(done, c) {
			out = append(out, toComplete[:i+1]+c)
		}
	}
	return out
}

// completeImageArgs completes set-image's arguments: the Deployment, then
// CONTAINER= for each of its containers and init containers not set yet (the
// image is the user's to type).
func completeImageArgs(getter genericclioptions.RESTClientGetter) completionFunc {
	deployments := completeDeployments(getter)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return deployments(cmd, args, toComplete)
		}
		if strings.Contains(toComplete, "=") {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := newClients(getter)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		kind, name, err := operations.ParseWorkload(args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		tmpl, err := operations.PodTemplate(cmd.Context(), c.Kube.AppsV1(), kind, c.Namespace, name)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		pod := tmpl.Spec
		set := map[string]bool{}
		for _, a := range args[1:] {
			name, _, _ := strings.Cut(a, "=")
			set[name] = true
		}
		var out []string
		for _, ctr := range append(pod.InitContainers, pod.Containers...) {
			if !set[ctr.Name] && strings.HasPrefix(ctr.Name, toComplete) {
				out = append(out, ctr.Name+"=")
			}
		}
		if len(out) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// completeDeployments offers the names of the namespace's Deployments,
// or, after a kubectl TYPE and a slash (sts/, ds/), of that kind's
// workloads, written as typed: sts/db.
func completeDeployments(getter genericclioptions.RESTClientGetter) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := newClients(getter)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		typ, prefix, typed := strings.Cut(toComplete, "/")
		kind := operations.Deployment
		if !typed {
			prefix = toComplete
		} else if kind, _, err = operations.ParseWorkload(toComplete); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		all, err := workloadNames(cmd.Context(), c.Kube, c.Namespace, kind)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, name := range all {
			if strings.HasPrefix(name, prefix) {
				if typed {
					name = typ + "/" + name
				}
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// workloadNames are the names of the namespace's workloads of kind.
func workloadNames(ctx context.Context, kube kubernetes.Interface, ns string, kind operations.Kind) ([]string, error) {
	apps, all := kube.AppsV1(), metav1.ListOptions{}
	switch kind {
	case operations.StatefulSet:
		return itemNames(apps.StatefulSets(ns).List(ctx, all))
	case operations.DaemonSet:
		return itemNames(apps.DaemonSets(ns).List(ctx, all))
	default:
		return itemNames(apps.Deployments(ns).List(ctx, all))
	}
}

// itemNames is the names of the items of a list call's answer.
func itemNames(list runtime.Object, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(items))
	for _, item := range items {
		o, err := meta.Accessor(item)
		if err != nil {
			return nil, err
		}
		names = append(names, o.GetName())
	}
	return names, nil
}

// explainKubectlCompletion makes cobra's completion command now, so that
// its help can say first what completes `kubectl deploywatch ...` as users
// type it: kubectl's own completion with kubectl_complete-deploywatch on
// PATH. cobra's scripts complete the binary run by its own name.
func explainKubectlCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Long = kubectlCompletionHelp("") + "\n" + c.Long
		for _, shell := range c.Commands() {
			shell.Long = kubectlCompletionHelp(shell.Name()) + "\nThis script completes kubectl-deploywatch run by its own name:\n\n" + shell.Long
		}
	}
}

func kubectlCompletionHelp(shell string) string {
	load := map[string]string{
		"bash":       "source <(kubectl completion bash)   # needs the bash-completion package",
		"zsh":        "source <(kubectl completion zsh)",
		"fish":       "kubectl completion fish | source",
		"powershell": "kubectl completion powershell | Out-String | Invoke-Expression",
	}[shell]
	if load == "" {
		load = "see 'kubectl completion --help' for your shell"
	}
	return `To complete "kubectl deploywatch ..." as you type it, you need no script from
this command: kubectl (1.26 and later) completes a plugin by running
kubectl_complete-deploywatch from PATH. Load kubectl's own completion:

	` + load + `

and put kubectl_complete-deploywatch, shipped with deploywatch, on PATH:
"make install" puts it next to kubectl-deploywatch; with krew, copy it from
krew's store into krew's bin directory (see docs/install.md, Shell completion).
`
}
