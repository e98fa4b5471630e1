package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
	"github.com/deploywatch/kubectl-deploywatch/pkg/manifest"
	"github.com/deploywatch/kubectl-deploywatch/pkg/printers"
	"github.com/deploywatch/kubectl-deploywatch/pkg/safety"
)

// check's exit codes, as grep's: 0 nothing at or above --fail-on, 1
// something is, 2 the check could not be made (bad input, flags, the
// cluster).
const (
	exitCheckFound = 1
	exitCheckError = 2
)

// checkFormats are the values of check's -o; checkFailOn of --fail-on.
var (
	checkFormats = []string{"table", "json"}
	checkFailOn  = []string{string(safety.Warning), string(safety.Notice), "never"}
)

// CheckOptions are the options of `kubectl deploywatch check`.
type CheckOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Filenames     []string
	Recursive     bool
	AllNamespaces bool
	LabelSelector string
	Output        string
	FailOn        string

	root      *cobra.Command // for the mistyped-subcommand hint
	clients   *clients
	namespace string
	args      []string
	selector  labels.Selector
	problems  []string
}

// NewCheckOptions returns CheckOptions with defaults.
func NewCheckOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *CheckOptions {
	return &CheckOptions{configFlags: configFlags, IOStreams: streams, Output: "table", FailOn: string(safety.Warning)}
}

// NewCmdCheck builds `kubectl deploywatch check`.
func NewCmdCheck(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdCheck(NewCheckOptions(configFlags, streams))
}

func newCmdCheck(o *CheckOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check [NAMESPACE | -f FILE|DIR|- ...]",
		Short: "Say which Deployment settings will cost requests in a rollout, before it happens",
		Long: `Check Deployments, with the Services and PodDisruptionBudgets that select their
pods, for the settings that make a rollout or a drain cost users requests: a
strategy that may leave no pod ready, a container served before it is ready
(no readinessProbe), no preStop pause, a grace period the preStop sleep uses
up, no PodDisruptionBudget. maxSurge and maxUnavailable are resolved as the
deployment controller resolves them. Each finding has a rule id, a level
(warning or notice), the Deployment and container, and the fix.

The objects are a namespace's in the cluster (needs list on deployments,
services and poddisruptionbudgets), or manifests with -f: files of YAML
(several documents) or JSON, kind: List, directories (their .yaml, .yml and
.json files; -R for subdirectories) and standard input (-f -). With -f no
cluster is contacted; objects of other kinds are skipped, and objects without
a namespace are in -n's, or the kubeconfig's, or "default".

Exit codes: 0 nothing at or above --fail-on, 1 something is, 2 the check could
not be made (a manifest that does not parse, a bad flag, the cluster refused
or could not be reached), with one line saying why.`,
		Example: `  # The Deployments of namespace shop, in the cluster
  kubectl deploywatch check shop

  # A chart, before it is installed
  helm template shop ./chart | kubectl deploywatch check -f -

  # Every manifest under deploy/, failing CI on notices too
  kubectl deploywatch check -f deploy/ -R --fail-on notice -o json`,
		Args:              cobra.ArbitraryArgs, // checked in Validate, with every other problem
		ValidArgsFunction: completeNamespaces(o.configFlags),
		RunE: func(cmd *cobra.Command, args []string) error {
			return checkExit(cmd.Context(), run(cmd, args, o))
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVarP(&o.Filenames, "filename", "f", o.Filenames, "manifests to check instead of the cluster: a file, a directory or - for standard input (repeat or comma-separate)")
	fs.BoolVarP(&o.Recursive, "recursive", "R", o.Recursive, "with -f, read the directories' subdirectories too")
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "check the Deployments of every namespace in the cluster")
	fs.StringVarP(&o.LabelSelector, "selector", "l", o.LabelSelector, "check only the Deployments with these labels, e.g. -l app=web,tier!=cache")
	fs.StringVarP(&o.Output, "output", "o", o.Output, "output format: "+strings.Join(checkFormats, ", "))
	fs.StringVar(&o.FailOn, "fail-on", o.FailOn, "exit 1 when a finding is at or above this level: "+strings.Join(checkFailOn, ", ")+" (never: exit 0 whatever is found)")
	// Bad flags are bad input: exit 2, as every other problem before the check.
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: exitCheckError, Err: fmt.Errorf("%w; see '%s --help'", err, c.CommandPath())}
	})
	// Registered before registerCompletions, which then leaves them be.
	_ = cmd.RegisterFlagCompletionFunc("filename", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml", "json"}, cobra.ShellCompDirectiveFilterFileExt
	})
	_ = cmd.RegisterFlagCompletionFunc("output", fixed(checkFormats...))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", fixed(checkFailOn...))
	return cmd
}

// checkExit gives every error of check exit code 2 (the check could not be
// made), keeping the code of those that chose one.
func checkExit(ctx context.Context, err error) error {
	var exit *ExitError
	switch {
	case err == nil || errors.As(err, &exit):
		return err
	case ctx.Err() != nil:
		return &ExitError{Code: interruptCode(ctx), Err: fmt.Errorf("interrupted: %w", err)}
	}
	return &ExitError{Code: exitCheckError, Err: err}
}

// Complete resolves the namespace and, to check the cluster, builds the
// clients. With -f it contacts no cluster.
func (o *CheckOptions) Complete(cmd *cobra.Command, args []string) error {
	o.args = args
	o.root = cmd.Root()
	nFlag := ""
	if o.configFlags.Namespace != nil {
		nFlag = *o.configFlags.Namespace
	}
	sel, err := labels.Parse(o.LabelSelector)
	if err != nil {
		o.problems = append(o.problems, fmt.Sprintf("invalid --selector %q: %v; use e.g. -l app=web,tier!=cache", o.LabelSelector, err))
	}
	o.selector = sel
	if len(o.Filenames) > 0 {
		// Objects without a namespace land where kubectl apply would put
		// them; the kubeconfig is read, the cluster is not contacted.
		o.namespace = nFlag
		if o.namespace == "" {
			if ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
				o.namespace = ns
			}
		}
		if o.namespace == "" {
			o.namespace = metav1.NamespaceDefault
		}
		return nil
	}
	if o.clients == nil { // tests set their own
		c, err := newClients(o.configFlags)
		if err != nil {
			return err
		}
		o.clients = c
	}
	o.namespace = o.clients.Namespace
	if len(args) == 1 {
		if nFlag != "" && nFlag != args[0] {
			o.problems = append(o.problems, fmt.Sprintf("namespace given twice: argument %q and -n %q; use one of them", args[0], nFlag))
		}
		o.namespace = args[0]
	}
	if o.AllNamespaces {
		o.namespace = ""
	}
	return nil
}

// Validate reports every problem with the arguments and flags at once.
func (o *CheckOptions) Validate() error {
	ps := slices.Clone(o.problems)
	files := len(o.Filenames) > 0
	switch {
	case len(o.args) > 1:
		ps = append(ps, fmt.Sprintf("check takes one namespace, got %d arguments: %q; give files with -f", len(o.args), o.args))
	case len(o.args) == 1 && files:
		ps = append(ps, fmt.Sprintf("a namespace (%q) and -f exclude each other: check the cluster's objects or the files'", o.args[0]))
	}
	if files && o.AllNamespaces {
		ps = append(ps, "-A and -f exclude each other: -A checks the cluster, -f the files")
	}
	if !files && o.AllNamespaces && (len(o.args) == 1 || (o.clients != nil && o.clients.ExplicitNamespace)) {
		ps = append(ps, "-A and a namespace exclude each other; use one of them")
	}
	if o.Recursive && !files {
		ps = append(ps, "-R reads the subdirectories of -f DIR: add -f or drop -R")
	}
	stdin := 0
	for _, f := range o.Filenames {
		switch f {
		case "":
			ps = append(ps, "-f names no file: give a file, a directory or - for standard input")
		case manifest.Stdin:
			stdin++
		}
	}
	if stdin > 1 {
		ps = append(ps, "-f - is given more than once: standard input can be read once")
	}
	if !slices.Contains(checkFormats, o.Output) {
		ps = append(ps, fmt.Sprintf("unknown output format %q: use one of %s", o.Output, strings.Join(checkFormats, ", ")))
	}
	if !slices.Contains(checkFailOn, o.FailOn) {
		ps = append(ps, fmt.Sprintf("unknown --fail-on %q: use one of %s", o.FailOn, strings.Join(checkFailOn, ", ")))
	}
	return joinProblems(ps)
}

// Run reads the objects, checks them and prints the findings.
func (o *CheckOptions) Run(ctx context.Context) error {
	var objs *manifest.Set
	var err error
	if len(o.Filenames) > 0 {
		objs, err = o.readFiles()
	} else {
		objs, err = o.readCluster(ctx)
	}
	if err != nil {
		return err
	}
	findings := safety.Check(objs.Deployments, objs.Services, objs.PodDisruptionBudgets)
	if err := o.print(findings, len(objs.Deployments)); err != nil {
		if isBrokenPipe(err) {
			return nil
		}
		return fmt.Errorf("writing output: %w", err)
	}
	return o.outcome(findings, len(objs.Deployments))
}

// readFiles reads the manifests; a Deployment the API server would refuse
// for its strategy is bad input too.
func (o *CheckOptions) readFiles() (*manifest.Set, error) {
	set, err := manifest.Read(o.Filenames, manifest.Options{
		Recursive: o.Recursive, Stdin: o.In, Namespace: o.namespace,
		Check: func(obj any) error {
			d, ok := obj.(*appsv1.Deployment)
			if !ok || safety.IsRecreate(d) {
				return nil
			}
			if _, _, err := safety.Fenceposts(d); err != nil {
				return fmt.Errorf("deployment %q: %w", d.Name, err)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	set.Deployments = slices.DeleteFunc(set.Deployments, func(d *appsv1.Deployment) bool {
		return !o.selector.Matches(labels.Set(d.Labels))
	})
	return set, nil
}

// readCluster lists the namespace's (or every namespace's) Deployments,
// Services and PodDisruptionBudgets.
func (o *CheckOptions) readCluster(ctx context.Context) (*manifest.Set, error) {
	if err := namespaceExists(ctx, o.root, o.clients, o.namespace, ""); err != nil {
		return nil, err
	}
	set, resource, err := listForCheck(ctx, o.clients.Kube, o.namespace, o.selector.String())
	if err != nil {
		where := fmt.Sprintf("in namespace %q", o.namespace)
		can := "-n " + o.namespace
		if o.namespace == "" {
			where, can = "in every namespace (-A)", "-A"
		}
		hint := fmt.Sprintf("check needs list on deployments, services and poddisruptionbudgets %s; check with 'kubectl auth can-i list %s %s'", where, resource, can)
		return nil, explain.API(err, o.clients.Config.Host, hint)
	}
	return set, nil
}

// listForCheck lists what the rules read, 500 at a time as kubectl does;
// resource names what failed.
func listForCheck(ctx context.Context, kube kubernetes.Interface, ns, selector string) (set *manifest.Set, resource string, err error) {
	set = &manifest.Set{}
	err = pages(ctx, metav1.ListOptions{LabelSelector: selector}, func(opts metav1.ListOptions) (string, error) {
		l, err := kube.AppsV1().Deployments(ns).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			set.Deployments = append(set.Deployments, &l.Items[i])
		}
		return l.Continue, nil
	})
	if err != nil {
		return nil, "deployments", err
	}
	err = pages(ctx, metav1.ListOptions{}, func(opts metav1.ListOptions) (string, error) {
		l, err := kube.CoreV1().Services(ns).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			set.Services = append(set.Services, &l.Items[i])
		}
		return l.Continue, nil
	})
	if err != nil {
		return nil, "services", err
	}
	err = pages(ctx, metav1.ListOptions{}, func(opts metav1.ListOptions) (string, error) {
		l, err := kube.PolicyV1().PodDisruptionBudgets(ns).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			set.PodDisruptionBudgets = append(set.PodDisruptionBudgets, &l.Items[i])
		}
		return l.Continue, nil
	})
	if err != nil {
		return nil, "poddisruptionbudgets", err
	}
	return set, "", nil
}

// pages calls list for each page of a list until the last.
func pages(ctx context.Context, opts metav1.ListOptions, list func(metav1.ListOptions) (string, error)) error {
	opts.Limit = 500
	for {
		next, err := list(opts)
		if err != nil || next == "" {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		opts.Continue = next
	}
}

// checkReport is check's -o json.
type checkReport struct {
	// Deployments is how many Deployments were checked.
	Deployments int              `json:"deployments"`
	Findings    []safety.Finding `json:"findings"`
}

func (o *CheckOptions) print(findings []safety.Finding, checked int) error {
	if o.Output == "json" {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(checkReport{Deployments: checked, Findings: append([]safety.Finding{}, findings...)})
	}
	if len(findings) == 0 {
		return nil
	}
	head := []string{"DEPLOYMENT", "LEVEL", "RULE", "CONTAINER", "MESSAGE", "FIX"}
	withNS := o.namespace == "" || slices.ContainsFunc(findings, func(f safety.Finding) bool { return f.Namespace != findings[0].Namespace })
	if withNS {
		head = append([]string{"NAMESPACE"}, head...)
	}
	rows := make([][]string, 0, len(findings))
	for _, f := range findings {
		row := []string{f.Deployment, string(f.Level), f.Rule, f.Container, f.Message, f.Fix}
		if withNS {
			row = append([]string{f.Namespace}, row...)
		}
		rows = append(rows, row)
	}
	return printers.WriteTable(o.Out, head, rows)
}

// outcome says what was found on stderr, in one line, and ends with exit 1
// when something is at or above --fail-on.
func (o *CheckOptions) outcome(findings []safety.Finding, checked int) error {
	counts := map[safety.Level]int{}
	failing := 0
	for _, f := range findings {
		counts[f.Level]++
		if o.FailOn != "never" && f.Level.AtLeast(safety.Level(o.FailOn)) {
			failing++
		}
	}
	var parts []string
	for _, l := range safety.Levels {
		if n := counts[l]; n > 0 {
			parts = append(parts, plural(n, string(l)))
		}
	}
	found := "nothing found"
	if len(parts) > 0 {
		found = strings.Join(parts, ", ")
	}
	line := fmt.Sprintf("checked %s: %s", plural(checked, "deployment"), found)
	if checked == 0 {
		line = "no deployments to check"
		if len(o.Filenames) == 0 {
			line = "no deployments found " + o.where()
		}
	}
	if failing > 0 {
		return &ExitError{Code: exitCheckFound, Err: fmt.Errorf("%s, at or above --fail-on %s", line, o.FailOn)}
	}
	_, err := fmt.Fprintln(o.ErrOut, line)
	return err
}

func (o *CheckOptions) where() string {
	if o.namespace == "" {
		return "in any namespace"
	}
	return fmt.Sprintf("in namespace %q", o.namespace)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
