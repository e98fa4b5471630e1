package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
	"github.com/deploywatch/kubectl-deploywatch/pkg/fanin"
	"github.com/deploywatch/kubectl-deploywatch/pkg/gate"
	"github.com/deploywatch/kubectl-deploywatch/pkg/printers"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// WatchOptions are the options of `kubectl deploywatch watch`.
type WatchOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	AllNamespaces bool
	LabelSelector string
	FieldSelector string
	Output        string
	Initial       bool
	UntilComplete bool
	Timeout       time.Duration
	FailingGrace  time.Duration
	FailOnGap     bool
	Diagnose      bool
	// Namespaces is --namespaces: several namespaces, comma-separated (as
	// -n a,b is).
	Namespaces string
	// AllContexts watches every context of the kubeconfig.
	AllContexts bool
	// ContextTimeout is how long the first view of several contexts waits
	// for one that does not answer.
	ContextTimeout time.Duration
	// Kind is --kind: the kinds of workload to watch, comma-separated;
	// empty for every kind.
	Kind string

	// Filled in by Complete.
	// kinds are the kinds watched (deployment.Kinds' values).
	kinds     []string
	clients   *clients
	namespace string
	// namespaces are the namespaces asked for (-n a,b, --namespaces, the
	// argument); empty for the kubeconfig's (each context's own) or -A.
	namespaces []string
	explicitNS bool
	// namespaceArg is the NAMESPACE argument, if given.
	namespaceArg string
	// contexts are the contexts of a view over several (nil for one).
	contexts []contextClients
	// root is the command tree, whose subcommands a namespace that does not
	// exist may be a typo of.
	root *cobra.Command

	// Set by Run: kindWarnings holds the warnings of kinds left out until
	// the first view (selectKinds).
	kindWarnings *heldLines

	// IsTerminal reports whether out is a terminal; tests replace it.
	IsTerminal func(io.Writer) bool
	// TerminalSize reports the terminal's columns and rows.
	TerminalSize func(io.Writer) (int, int)
}

// NewWatchOptions returns WatchOptions with defaults.
func NewWatchOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *WatchOptions {
	return &WatchOptions{
		configFlags: configFlags, IOStreams: streams,
		Output: "table", Initial: true, FailingGrace: gate.DefaultFailingGrace, Diagnose: true,
		ContextTimeout: 10 * time.Second,
		IsTerminal:     isTerminal, TerminalSize: terminalSize,
	}
}

// NewCmdWatch builds `kubectl deploywatch watch`.
func NewCmdWatch(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewWatchOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "watch [NAMESPACE]",
		Short: "Watch Deployments, StatefulSets and DaemonSets live, one line per change that matters",
		Long: `Watch every Deployment, StatefulSet and DaemonSet in a namespace live (--kind
picks kinds). On a terminal the table is redrawn in place; piped, or with
-o ndjson, one line is printed per change a user can see: updates that change
nothing shown print nothing.

Exit codes with --until-complete: 0 every workload is complete (Running,
ScaledToZero, or paused with nothing pending), 1 one of them Failed, is paused
with old replicas left or before it started (or, for a StatefulSet or
DaemonSet with updateStrategy OnDelete, with old pods left), or has been Failing for
--failing-grace (or any error), or, with --fail-on-gap, a Service had a serving
gap during the wait; 2 --timeout ran out. A failure names every workload that
failed or is Failing, each followed by the commands that would help (undo,
history, resume, kubectl delete pod, kubectl describe pod).`,
		Example: `  # The current namespace, live
  kubectl deploywatch watch

  # Every namespace, as NDJSON for a script
  kubectl deploywatch watch -A -o ndjson

  # Wait in CI until a namespace has rolled out
  kubectl deploywatch watch shop --until-complete --timeout 10m

  # Wait for a Helm release's workloads, of every kind
  kubectl deploywatch watch shop -l app.kubernetes.io/instance=shop --until-complete`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeNamespaces(configFlags),
		RunE:              func(cmd *cobra.Command, args []string) error { return run(cmd, args, o) },
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers watch's flags on fs (the root command has them too).
func (o *WatchOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "watch Deployments in every namespace")
	fs.StringVarP(&o.LabelSelector, "selector", "l", o.LabelSelector, "label selector to filter on, e.g. -l app=web,tier!=cache")
	fs.StringVar(&o.FieldSelector, "field-selector", o.FieldSelector, "field selector to filter on, e.g. --field-selector metadata.name=web")
	fs.StringVarP(&o.Output, "output", "o", o.Output, "output format: "+strings.Join(printers.Formats, ", "))
	fs.BoolVar(&o.Initial, "initial", o.Initial, "show the Deployments that already exist; --initial=false shows only changes from now on")
	fs.BoolVar(&o.UntilComplete, "until-complete", o.UntilComplete, "exit once every Deployment is complete (0), or one failed (1)")
	fs.BoolVar(&o.Diagnose, "diagnose", o.Diagnose, "also read the rollouts' ReplicaSets, Pods and Warning Events to say why one is stuck (Failing), and the Services and EndpointSlices to show what each Deployment's Services serve and every serving gap; --diagnose=false watches Deployments alone")
	fs.BoolVar(&o.FailOnGap, "fail-on-gap", o.FailOnGap, "with --until-complete, exit 1 when a Service of a Deployment shown had a serving gap during the wait (no ready endpoint, or fewer than its strategy keeps), even if every rollout finished, or when serving could not be seen")
	fs.DurationVar(&o.FailingGrace, "failing-grace", o.FailingGrace, "with --until-complete, exit 1 once a rollout has been Failing this long (its pods cannot pull, crash, cannot be scheduled or created)")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up after this long (exit 2); 0 waits forever")
	fs.StringVar(&o.Namespaces, "namespaces", o.Namespaces, "watch these namespaces (comma-separated), as -n a,b does; no cluster-wide permission needed")
	fs.BoolVar(&o.AllContexts, "all-contexts", o.AllContexts, "watch every context of the kubeconfig in one view (see --context)")
	fs.DurationVar(&o.ContextTimeout, "context-timeout", o.ContextTimeout, "with several contexts, how long the first view waits for a context that does not answer (it is shown as unreachable and tried again)")
	fs.StringVar(&o.Kind, "kind", o.Kind, "the kinds of workload to watch, comma-separated: deploy, sts, ds (or deployment(s), statefulset(s), daemonset(s)); default every kind")
}

// Complete resolves the namespaces and contexts and builds the clients.
func (o *WatchOptions) Complete(cmd *cobra.Command, args []string) error {
	nFlag := ""
	if o.configFlags.Namespace != nil {
		nFlag = *o.configFlags.Namespace
	}
	o.explicitNS = nFlag != ""
	o.root = cmd.Root()
	if len(args) == 1 {
		o.namespaceArg = args[0]
	}
	namespaces, err := o.namespaceList(nFlag, args)
	if err != nil {
		return err
	}
	o.namespaces = namespaces
	if o.contexts, err = severalContexts(o.configFlags, o.AllContexts); err != nil || o.contexts != nil {
		return err
	}
	c, err := newClients(o.configFlags)
	if err != nil {
		return err
	}
	o.clients = c
	o.namespace = c.Namespace
	if len(o.namespaces) > 0 {
		o.namespace = o.namespaces[0]
	}
	if o.AllNamespaces {
		o.namespace = ""
	}
	return nil
}

// namespaceList is the namespaces given by -n (nFlag), --namespaces or the
// argument, each a comma-separated list.
func (o *WatchOptions) namespaceList(nFlag string, args []string) ([]string, error) {
	given := splitList(nFlag)
	if o.Namespaces != "" {
		if len(given) > 0 {
			return nil, fmt.Errorf("namespaces given twice: -n %q and --namespaces %q; use one of them", nFlag, o.Namespaces)
		}
		given = splitList(o.Namespaces)
		if len(given) == 0 {
			return nil, errors.New("--namespaces names no namespace; give a comma-separated list, e.g. --namespaces shop,cart")
		}
	}
	if len(args) == 1 {
		arg := splitList(args[0])
		if len(given) > 0 && !slices.Equal(arg, given) {
			return nil, fmt.Errorf("namespace given twice: argument %q and -n %q; use one of them", args[0], strings.Join(given, ","))
		}
		given = arg
	}
	return given, nil
}

// multi says whether the view spans several trackers (namespaces or
// contexts), merged by package fanin.
func (o *WatchOptions) multi() bool {
	return o.contexts != nil || (!o.AllNamespaces && len(o.namespaces) > 1)
}

// Validate reports every problem with the flags at once.
func (o *WatchOptions) Validate() error {
	var problems []string
	if !slices.Contains(printers.Formats, o.Output) {
		problems = append(problems, fmt.Sprintf("unknown output format %q: use one of %s", o.Output, strings.Join(printers.Formats, ", ")))
	}
	if o.Timeout < 0 {
		problems = append(problems, fmt.Sprintf("--timeout must not be negative, got %s", o.Timeout))
	}
	if o.FailingGrace < 0 {
		problems = append(problems, fmt.Sprintf("--failing-grace must not be negative, got %s", o.FailingGrace))
	}
	if o.FailOnGap && !o.UntilComplete {
		problems = append(problems, "--fail-on-gap only applies with --until-complete; add --until-complete or drop --fail-on-gap")
	}
	if o.FailOnGap && !o.Diagnose {
		problems = append(problems, "--fail-on-gap needs the Services and EndpointSlices that --diagnose=false leaves unread; drop one of them")
	}
	if o.Timeout > 0 && !o.UntilComplete {
		problems = append(problems, "--timeout only applies with --until-complete; add --until-complete or drop --timeout")
	}
	if _, err := labels.Parse(o.LabelSelector); err != nil {
		problems = append(problems, fmt.Sprintf("invalid --selector %q: %v; use e.g. -l app=web,tier!=cache", o.LabelSelector, err))
	}
	if _, err := fields.ParseSelector(o.FieldSelector); err != nil {
		problems = append(problems, fmt.Sprintf("invalid --field-selector %q: %v; use e.g. --field-selector metadata.name=web", o.FieldSelector, err))
	}
	switch {
	case o.AllNamespaces && (o.explicitNS || o.Namespaces != "" || (o.clients != nil && o.clients.ExplicitNamespace)):
		problems = append(problems, "-A and -n exclude each other; use one of them")
	case o.AllNamespaces && o.namespaceArg != "":
		problems = append(problems, fmt.Sprintf("-A and the namespace argument %q exclude each other; use one of them", o.namespaceArg))
	}
	if o.Kind == "" {
		o.kinds = deployment.Kinds
	} else if kinds, err := deployment.ParseKinds(o.Kind); err != nil {
		problems = append(problems, "--kind: "+err.Error())
	} else {
		o.kinds = kinds
	}
	if o.ContextTimeout <= 0 {
		problems = append(problems, fmt.Sprintf("--context-timeout must be positive, got %s", o.ContextTimeout))
	}
	if o.AllContexts && o.configFlags != nil && o.configFlags.Context != nil && *o.configFlags.Context != "" {
		problems = append(problems, "--all-contexts and --context exclude each other; use one of them")
	}
	if o.contexts != nil {
		for _, f := range perContextFlags(o.configFlags) {
			problems = append(problems, fmt.Sprintf("--%s applies to one context, and several are watched, each with its own from the kubeconfig: drop --%s, or watch one context", f, f))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// perContextFlags are the kubectl flags given that name one cluster or
// identity, which cannot apply to several contexts at once.
func perContextFlags(cf *genericclioptions.ConfigFlags) []string {
	var out []string
	for name, v := range map[string]*string{
		"cluster": cf.ClusterName, "user": cf.AuthInfoName, "server": cf.APIServer, "token": cf.BearerToken,
		"certificate-authority": cf.CAFile, "client-certificate": cf.CertFile, "client-key": cf.KeyFile,
		"username": cf.Username, "password": cf.Password, "tls-server-name": cf.TLSServerName,
	} {
		if v != nil && *v != "" {
			out = append(out, name)
		}
	}
	if cf.Insecure != nil && *cf.Insecure {
		out = append(out, "insecure-skip-tls-verify")
	}
	sort.Strings(out)
	return out
}

// Run watches until interrupted or, with --until-complete, until settled.
func (o *WatchOptions) Run(ctx context.Context) error {
	if o.multi() {
		return o.runMany(ctx)
	}
	if err := o.checkNamespace(ctx); err != nil {
		return err
	}
	var synced atomic.Bool // after the first sync, health says what the errors would
	topts := tracker.Options{
		Namespace:     o.namespace,
		LabelSelector: o.LabelSelector,
		FieldSelector: o.FieldSelector,
		SkipInitial:   !o.Initial,
		OnError:       o.reportTransient(&synced),
	}
	o.selectKinds(&topts, o.clients, "")
	if o.Diagnose {
		topts.Diagnose = tracker.DiagnoseWith(o.clients.Kube)
		topts.OnDiagnosisOff = func(err error) {
			fmt.Fprintf(o.ErrOut, "warning: not diagnosing rollouts: %s; watching Deployments alone (--diagnose=false hides this)\n", oneLine(err.Error()))
		}
		topts.OnServingOff = o.servingOff("")
	}
	where := topts.Where()
	p := o.printerWith("", printers.Options{AllNamespaces: o.namespace == "", Title: o.title(where), Empty: o.empty()})
	if o.Diagnose {
		topts.OnServiceGaps = printers.ServiceGapsTo(p, o.ErrOut)
	}
	// The live table says an outage in its title; piped, stdout stays a
	// list of Deployment events and the outage is told on stderr.
	notice := func(sink tracker.Sink) tracker.Sink {
		return &healthNotice{Sink: sink, errOut: o.ErrOut, where: where, seen: o.newKindsSeen()}
	}
	run := func(ctx context.Context, sink tracker.Sink) error {
		return tracker.New(o.clients.Kube.AppsV1(), topts).Run(ctx, sink)
	}
	explain := func(err error) error { return explain.API(err, o.clients.Config.Host, o.forbiddenHint()) }
	return o.drive(ctx, p, o.namespace, &synced, notice, run, explain)
}

// selectKinds sets the kinds topts follows, read through c; in names the
// source for the warning when, with every kind (no --kind), one may not be
// listed and is left out.
func (o *WatchOptions) selectKinds(topts *tracker.Options, c *clients, in string) {
	topts.Kinds = o.kinds
	topts.Workloads = c.Kube.AppsV1()
	if o.Kind != "" {
		return // asked for: one that cannot be listed is an error
	}
	if o.kindWarnings == nil {
		o.kindWarnings = &heldLines{out: o.ErrOut}
	}
	topts.OnKindOff = func(kind string, err error) {
		resource := strings.ToLower(kind) + "s"
		o.kindWarnings.print(fmt.Sprintf("warning: not watching %s%s: %s; ask for list and watch on %s, or pick kinds with --kind (--kind deploy hides this)",
			resource, in, oneLine(err.Error()), resource))
	}
}

// heldLines keeps lines for stderr until the first view is out (release),
// then prints them and any later one at once: a watch that fails before its
// view (Deployments forbidden in one of several namespaces, say) says its
// error alone, not after warnings about kinds it would have left out.
type heldLines struct {
	mu       sync.Mutex
	out      io.Writer
	released bool
	lines    []string
}

func (h *heldLines) print(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		fmt.Fprintln(h.out, line)
		return
	}
	h.lines = append(h.lines, line)
}

// release prints the lines held; nil releases nothing.
func (h *heldLines) release() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lines {
		fmt.Fprintln(h.out, l)
	}
	h.lines, h.released = nil, true
}

// title is the live table's title: the kinds its rows are of, where; when
// several kinds' names do not fit, "workloads" (as the counts call them).
func (o *WatchOptions) title(where string) func([]string, int) string {
	seen := o.newKindsSeen()
	return func(kinds []string, room int) string {
		// The longest form that fits: the tally after it names what is
		// counted, so the kinds go before where (which the printer cuts
		// last, from its end).
		forms := []string{seen.nounOf(kinds) + " in " + where}
		if len(kinds) > 1 {
			forms = append(forms, "workloads in "+where)
		}
		forms = append(forms, where)
		for _, f := range forms {
			if room <= 0 || utf8.RuneCountInString(f) <= room {
				return f
			}
		}
		return where
	}
}

// empty is the live table's line when it has no row: "No statefulsets
// found." with --kind sts.
func (o *WatchOptions) empty() string { return "No " + o.newKindsSeen().none + " found." }

// servingOff warns once that serving cannot be read (in names where).
func (o *WatchOptions) servingOff(in string) func(error) {
	return func(err error) {
		fmt.Fprintf(o.ErrOut, "warning: serving unknown%s: %s; ask for list and watch on services, endpointslices and pods (--diagnose=false hides this)\n", in, oneLine(err.Error()))
	}
}

// drive runs the watch (run) into p, through the notices for a pipe and,
// with --until-complete, the gate, and turns how it ended into the
// command's outcome. where names the namespace for "No resources found".
func (o *WatchOptions) drive(ctx context.Context, p printer, where string, synced *atomic.Bool,
	notice func(tracker.Sink) tracker.Sink, run func(context.Context, tracker.Sink) error, explain func(error) error) error {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	runCtx, stopTracker := context.WithCancel(ctx)
	defer stopTracker()

	var sink tracker.Sink = p
	if o.Output != "ndjson" && !o.IsTerminal(o.Out) {
		sink = &emptyNotice{Sink: sink, errOut: o.ErrOut, where: where}
		sink = printers.RolloutNotice(sink, o.ErrOut) // what a rollout cost, beside the rows
	}
	if o.Output == "ndjson" || !o.IsTerminal(o.Out) {
		sink = notice(sink)
	}
	restoreGC := func() {}
	if o.Diagnose { // six caches to fill; Deployments alone peak well below
		restoreGC = collectEagerly()
	}
	defer restoreGC()
	sink = &syncFlag{Sink: sink, synced: synced, before: o.kindWarnings.release, then: restoreGC}
	var done *gate.View
	if o.UntilComplete {
		done = gate.NewView(sink, stopTracker, gate.ViewOptions{FailingGrace: o.FailingGrace, Target: stepTarget(o.configFlags)})
		if o.FailOnGap {
			done.FailOnGap()
		}
		sink = done
	}
	err := run(runCtx, sink)
	closeErr := p.Close()
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return explain(err)
	}
	if closeErr != nil && !isBrokenPipe(closeErr) {
		return fmt.Errorf("writing output: %w", closeErr)
	}
	if done != nil {
		result := done.Result(ctx, o.Timeout)
		if line := done.WarningsSummary(); line != "" {
			fmt.Fprintln(o.ErrOut, "warning: "+line) // the closing summary, passed or not
		}
		return exitOf(ctx, result)
	}
	return nil
}

// exitOf gives the end of a wait (package gate) its exit code: 1 when a
// rollout failed, 2 when --timeout ran out, 128+signal when interrupted.
// Any other error (nil included) is returned as it is.
func exitOf(ctx context.Context, err error) error {
	var end *gate.Error
	if !errors.As(err, &end) {
		return err
	}
	code := exitFailure
	switch end.Outcome {
	case gate.TimedOut:
		code = exitTimeout
	case gate.Interrupted:
		code = interruptCode(ctx)
	}
	return &ExitError{Code: code, Err: end}
}

// checkNamespace reports a namespace that does not exist instead of waiting
// on it silently. Without permission to read namespaces, it trusts the user.
func (o *WatchOptions) checkNamespace(ctx context.Context) error {
	return namespaceExists(ctx, o.root, o.clients, o.namespace, "")
}

// namespaceExists checks that namespace ns exists through c; in names
// the context in messages (empty for none). A mistyped subcommand of root
// taken for a namespace gets a hint.
func namespaceExists(ctx context.Context, root *cobra.Command, c *clients, ns, in string) error {
	if ns == "" {
		return nil
	}
	_, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case err == nil, apierrors.IsForbidden(err):
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("namespace %q not found%s; list namespaces with 'kubectl get namespaces'%s", ns, in, subcommandHint(root, ns))
	default:
		return explain.API(err, c.Config.Host, "")
	}
}

// subcommandHint catches a mistyped subcommand taken for a namespace: the
// subcommands of root that cobra suggests for arg, as it does for an
// unknown command (within root.SuggestionsMinimumDistance edits, or
// starting with arg). It only reads root, so concurrent checks may call it.
func subcommandHint(root *cobra.Command, arg string) string {
	if root == nil {
		return ""
	}
	subs := root.SuggestionsFor(arg)
	if len(subs) == 0 {
		return ""
	}
	for i, sub := range subs {
		subs[i] = fmt.Sprintf("'%s %s'", displayName, sub)
	}
	return fmt.Sprintf(", or did you mean %s?", strings.Join(subs, " or "))
}

func (o *WatchOptions) forbiddenHint() string {
	// Without --kind only the Deployments' error ends the command (another
	// kind is left out); with it, any kind asked for may be the one.
	resources, first, every := "deployments", "deployments", "Deployments"
	if o.Kind != "" && len(o.kinds) > 0 {
		resources, first = deployment.KindsNoun(o.kinds), strings.ToLower(o.kinds[0])+"s"
		every = resources
	}
	if o.namespace == "" {
		return fmt.Sprintf("you may not watch %s in every namespace: pick one with -n NAMESPACE, or ask for list and watch on %s cluster-wide", every, resources)
	}
	return fmt.Sprintf("ask for list and watch on %s in namespace %q, check with 'kubectl auth can-i watch %s -n %s'", resources, o.namespace, first, o.namespace)
}

// reportTransient prints connection trouble before the first sync once per
// distinct message, so a slow start costs a line, not a flood. After the
// sync the tracker's health tells an outage (healthNotice, the live title).
func (o *WatchOptions) reportTransient(synced *atomic.Bool) func(error) {
	var mu sync.Mutex
	var last string
	return func(err error) {
		if synced.Load() {
			return
		}
		msg := oneLine(err.Error())
		mu.Lock()
		defer mu.Unlock()
		if msg == last {
			return
		}
		last = msg
		fmt.Fprintf(o.ErrOut, "warning: lost the watch, retrying: %s\n", msg)
	}
}

type printer interface {
	tracker.Sink
	Close() error
}

func (o *WatchOptions) printerWith(title string, popts printers.Options) printer {
	popts.Wide = o.Output == "wide"
	popts.Serving = o.Diagnose
	switch {
	case o.Output == "ndjson":
		return printers.NewNDJSON(o.Out)
	case o.IsTerminal(o.Out):
		popts.Color = os.Getenv("NO_COLOR") == ""
		return printers.NewLive(o.Out, popts, title, func() (int, int) { return o.TerminalSize(o.Out) })
	default:
		return printers.NewStream(o.Out, popts)
	}
}

// emptyNotice tells a reader of a piped table that nothing matched, on
// stderr as kubectl does, so stdout holds only the table.
type emptyNotice struct {
	tracker.Sink
	errOut io.Writer
	where  string
}

func (n *emptyNotice) OnHealth(h tracker.Health) { tracker.TellHealth(n.Sink, h) }

func (n *emptyNotice) OnSource(st fanin.State) { fanin.TellSource(n.Sink, st) }

// syncFlag raises synced once the first table is out, calling before (when
// set) just before it and then (when set) after it.
type syncFlag struct {
	tracker.Sink
	synced *atomic.Bool
	before func()
	then   func()
}

func (s *syncFlag) OnSynced(snapshot []deployment.Summary) {
	if s.before != nil {
		s.before()
	}
	s.Sink.OnSynced(snapshot)
	s.synced.Store(true)
	if s.then != nil {
		s.then()
	}
}

func (s *syncFlag) OnHealth(h tracker.Health) { tracker.TellHealth(s.Sink, h) }

func (s *syncFlag) OnSource(st fanin.State) { fanin.TellSource(s.Sink, st) }

// healthNotice prints one warning line on stderr when the watch is lost and
// one when it is back, so a reader of a pipe knows which rows may be stale.
type healthNotice struct {
	tracker.Sink
	errOut io.Writer
	// what is watched: what, or the kinds seen (seen) in where.
	what  string
	where string
	seen  *kindsSeen
	lost  *tracker.Health // since when, while lost
}

func (n *healthNotice) OnEvent(e deployment.Event) {
	n.seen.see(&e.Summary)
	n.Sink.OnEvent(e)
}

func (n *healthNotice) OnSynced(snapshot []deployment.Summary) {
	for i := range snapshot {
		n.seen.see(&snapshot[i])
	}
	n.Sink.OnSynced(snapshot)
}

func (n *healthNotice) describe() string {
	if n.seen == nil {
		return n.what
	}
	return n.seen.noun() + " in " + n.where
}

func (n *healthNotice) OnHealth(h tracker.Health) {
	switch {
	case h.State == tracker.Reconnecting && n.lost == nil:
		n.lost = &h
		fmt.Fprintf(n.errOut, "warning: lost the watch of %s at %s, reconnecting: %s\n",
			n.describe(), h.Since.Local().Format(time.TimeOnly), oneLine(fmt.Sprint(h.Err)))
	case h.State == tracker.Live && n.lost != nil:
		fmt.Fprintf(n.errOut, "warning: the watch of %s is back at %s after %s; the rows that follow are current\n",
			n.describe(), h.Since.Local().Format(time.TimeOnly), h.Since.Sub(n.lost.Since).Round(time.Second))
		n.lost = nil
	}
	tracker.TellHealth(n.Sink, h)
}

func (n *emptyNotice) OnSynced(snapshot []deployment.Summary) {
	n.Sink.OnSynced(snapshot)
	if len(snapshot) > 0 {
		return
	}
	if n.where == "" {
		fmt.Fprintln(n.errOut, "No resources found")
		return
	}
	fmt.Fprintf(n.errOut, "No resources found in %s namespace.\n", n.where)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func terminalSize(w io.Writer) (int, int) {
	if f, ok := w.(*os.File); ok {
		if width, height, err := term.GetSize(int(f.Fd())); err == nil {
			return width, height
		}
	}
	return 0, 0
}

// isBrokenPipe reports whether a write failed because the reader is gone
// (a pipe into head, say): nothing is left to tell, so it is no error. The
// printers keep the write's own error, an *fs.PathError around EPIPE.
func isBrokenPipe(err error) bool {
	return errors.Is(err, syscall.EPIPE)
}

// runMany is Run for a view over several namespaces or contexts: a tracker
// per (context, namespace), merged by package fanin into one printer.
func (o *WatchOptions) runMany(ctx context.Context) error {
	sources := o.sources()
	printer := o.printerWith("", printers.Options{AllNamespaces: true, Contexts: o.contexts != nil, Title: o.title(o.whereMany()), Empty: o.empty()})
	notice := func(sink tracker.Sink) tracker.Sink {
		return &sourceNotice{Sink: sink, errOut: o.ErrOut, told: map[string]string{}, seen: o.newKindsSeen()}
	}
	run := func(ctx context.Context, sink tracker.Sink) error {
		return fanin.Run(ctx, sources, fanin.Options{StartTimeout: o.ContextTimeout, Retry: o.contexts != nil}, sink)
	}
	explain := func(err error) error {
		var se *fanin.SourceError
		if o.clients == nil || !errors.As(err, &se) {
			return err
		}
		return explain.API(err, o.clients.Config.Host, fmt.Sprintf("ask for list and watch on %s in %s", o.newKindsSeen().none, se.Source))
	}
	return o.drive(ctx, printer, "", new(atomic.Bool), notice, run, explain)
}

// sources are the (context, namespace) pairs of a view over several.
func (o *WatchOptions) sources() []fanin.Source {
	list := o.contexts
	if list == nil {
		list = []contextClients{{clients: o.clients}}
	}
	var out []fanin.Source
	for _, cc := range list {
		namespaces := o.namespaces
		switch {
		case o.AllNamespaces:
			namespaces = []string{""}
		case len(namespaces) == 0:
			namespaces = []string{cc.Namespace}
		}
		for _, ns := range namespaces {
			src := fanin.Source{
				Context: cc.Name,
				Client:  cc.Kube.AppsV1(),
				Options: tracker.Options{Namespace: ns, LabelSelector: o.LabelSelector, FieldSelector: o.FieldSelector, SkipInitial: !o.Initial},
			}
			o.selectKinds(&src.Options, cc.clients, " in "+src.Name())
			name := src.Name()
			in := ""
			if cc.Name != "" {
				in = fmt.Sprintf(" in context %q", cc.Name)
			}
			c := cc.clients
			src.Check = func(ctx context.Context) error {
				// A cluster that does not answer must not hang the attempt.
				ctx, cancel := context.WithTimeout(ctx, o.ContextTimeout)
				defer cancel()
				return namespaceExists(ctx, o.root, c, ns, in)
			}
			if o.Diagnose {
				src.Options.Diagnose = tracker.DiagnoseWith(cc.Kube)
				src.Options.OnDiagnosisOff = func(err error) {
					fmt.Fprintf(o.ErrOut, "warning: not diagnosing rollouts in %s: %s; watching Deployments alone (--diagnose=false hides this)\n", name, oneLine(err.Error()))
				}
				src.Options.OnServingOff = o.servingOff(" in " + name)
			}
			out = append(out, src)
		}
	}
	return out
}

// whereMany names where a view over several sources watches, for the
// live table's title.
func (o *WatchOptions) whereMany() string {
	quoted := func(items []string) string {
		q := make([]string, len(items))
		for i, s := range items {
			q[i] = fmt.Sprintf("%q", s)
		}
		return strings.Join(q, ", ")
	}
	where := "namespaces " + quoted(o.namespaces)
	switch {
	case o.AllNamespaces:
		where = "all namespaces"
	case len(o.namespaces) == 1:
		where = fmt.Sprintf("namespace %q", o.namespaces[0])
	case len(o.namespaces) == 0:
		where = "each context's namespace"
	}
	if o.contexts != nil {
		names := make([]string, len(o.contexts))
		for i, c := range o.contexts {
			names[i] = c.Name
		}
		where += " of contexts " + quoted(names)
	}
	if o.LabelSelector != "" {
		where += fmt.Sprintf(" with labels %q", o.LabelSelector)
	}
	return where
}

// sourceNotice prints, on stderr, one warning line when a source of a view
// over several cannot be watched or is lost, and one when it is back, so a
// reader of a pipe knows which rows may be stale and why.
type sourceNotice struct {
	tracker.Sink
	errOut io.Writer
	told   map[string]string // by source: what was last said, "" when live
	seen   *kindsSeen
}

func (n *sourceNotice) OnEvent(e deployment.Event) {
	n.seen.see(&e.Summary)
	n.Sink.OnEvent(e)
}

func (n *sourceNotice) OnSynced(snapshot []deployment.Summary) {
	for i := range snapshot {
		n.seen.see(&snapshot[i])
	}
	n.Sink.OnSynced(snapshot)
}

func (n *sourceNotice) OnHealth(h tracker.Health) { tracker.TellHealth(n.Sink, h) }

func (n *sourceNotice) OnSource(st fanin.State) {
	fanin.TellSource(n.Sink, st)
	key := st.Context + "/" + st.Namespace
	prev := n.told[key]
	switch {
	case !st.Synced && st.Err != nil:
		msg := "error: " + oneLine(st.Err.Error())
		if prev != msg {
			n.told[key] = msg
			fmt.Fprintf(n.errOut, "warning: cannot watch %s in %s since %s: %s; trying again\n",
				n.seen.noun(), st.Name(), st.Since.Local().Format(time.TimeOnly), oneLine(st.Err.Error()))
		}
	case st.Synced && st.Health.State == tracker.Reconnecting:
		if prev != "lost" {
			n.told[key] = "lost"
			fmt.Fprintf(n.errOut, "warning: lost the watch of %s in %s at %s, reconnecting: %s\n",
				n.seen.noun(), st.Name(), st.Health.Since.Local().Format(time.TimeOnly), oneLine(fmt.Sprint(st.Health.Err)))
		}
	case st.Live() && prev != "":
		delete(n.told, key)
		fmt.Fprintf(n.errOut, "warning: the watch of %s in %s is back at %s; the rows that follow are current\n",
			n.seen.noun(), st.Name(), time.Now().Format(time.TimeOnly))
	}
}

// kindsSeen remembers the kinds of the workloads a watch has shown, so its
// messages name what it shows: "deployments" while Deployments alone are
// there (as before other kinds), the kinds listed once others are.
type kindsSeen struct {
	mu   sync.Mutex
	seen map[string]bool
	// none names what an empty view watches: the kinds asked for with
	// --kind, or Deployments.
	none string
}

func (o *WatchOptions) newKindsSeen() *kindsSeen {
	none := "deployments"
	if o.Kind != "" {
		none = deployment.KindsNoun(o.kinds)
	}
	return &kindsSeen{seen: map[string]bool{}, none: none}
}

func (k *kindsSeen) see(s *deployment.Summary) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seen[cmp.Or(s.Kind, deployment.KindDeployment)] = true
}

func (k *kindsSeen) noun() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var kinds []string
	for kind := range k.seen {
		kinds = append(kinds, kind)
	}
	return k.nounOf(kinds)
}

// nounOf names a view of these kinds.
func (k *kindsSeen) nounOf(kinds []string) string {
	if len(kinds) == 0 {
		return k.none
	}
	return deployment.KindsNoun(kinds)
}
