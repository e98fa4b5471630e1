package cmd

import (
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
	"time"

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
	Diagnose      bool

	// Filled in by Complete.
	clients      *clients
	namespace    string
	namespaceArg string // the NAMESPACE argument, if given
	// IsTerminal reports whether out is a terminal; tests replace it.
	IsTerminal func(io.Writer) bool
	// TerminalSize reports the terminal's columns and rows.
	TerminalSize func(io.Writer) (int, int)
}

// NewWatchOptions returns WatchOptions with defaults.
func NewWatchOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *WatchOptions {
	return &WatchOptions{
		configFlags: configFlags, IOStreams: streams,
		Output: "table", Initial: true, FailingGrace: deployment.DefaultFailingGrace, Diagnose: true,
		IsTerminal: isTerminal, TerminalSize: terminalSize,
	}
}

// NewCmdWatch builds `kubectl deploywatch watch`.
func NewCmdWatch(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewWatchOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "watch [NAMESPACE]",
		Short: "Watch Deployments live, one line per change that matters",
		Long: `Watch every Deployment in a namespace live. On a terminal the table is redrawn
in place; piped, or with -o ndjson, one line is printed per change a user can
see: updates that change nothing shown print nothing.

Exit codes with --until-complete: 0 every Deployment is complete (Running,
ScaledToZero, or paused with nothing pending), 1 one of them Failed, is paused
with old replicas left, or has been Failing for --failing-grace (or any error),
2 --timeout ran out.`,
		Example: `  # The current namespace, live
  kubectl deploywatch watch

  # Every namespace, as NDJSON for a script
  kubectl deploywatch watch -A -o ndjson

  # Wait in CI until a namespace has rolled out
  kubectl deploywatch watch shop --until-complete --timeout 10m`,
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
	fs.BoolVar(&o.Diagnose, "diagnose", o.Diagnose, "also read the rollouts' ReplicaSets, Pods and Warning Events to say why one is stuck (Failing); --diagnose=false watches Deployments alone")
	fs.DurationVar(&o.FailingGrace, "failing-grace", o.FailingGrace, "with --until-complete, exit 1 once a rollout has been Failing this long (its pods cannot pull, crash, cannot be scheduled or created)")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up after this long (exit 2); 0 waits forever")
}

// Complete resolves the namespace and builds the clients.
func (o *WatchOptions) Complete(cmd *cobra.Command, args []string) error {
	c, err := newClients(o.configFlags)
	if err != nil {
		return err
	}
	o.clients = c
	o.namespace = c.Namespace
	if len(args) == 1 {
		if c.ExplicitNamespace && args[0] != c.Namespace {
			return fmt.Errorf("namespace given twice: argument %q and -n %q; use one of them", args[0], c.Namespace)
		}
		o.namespace, o.namespaceArg = args[0], args[0]
	}
	if o.AllNamespaces {
		o.namespace = ""
	}
	return nil
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
	case o.AllNamespaces && o.clients != nil && o.clients.ExplicitNamespace:
		problems = append(problems, "-A and -n exclude each other; use one of them")
	case o.AllNamespaces && o.namespaceArg != "":
		problems = append(problems, fmt.Sprintf("-A and the namespace argument %q exclude each other; use one of them", o.namespaceArg))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Run watches until interrupted or, with --until-complete, until settled.
func (o *WatchOptions) Run(ctx context.Context) error {
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
	if o.Diagnose {
		topts.Diagnose = tracker.DiagnoseWith(o.clients.Kube)
		topts.OnDiagnosisOff = func(err error) {
			fmt.Fprintf(o.ErrOut, "warning: not diagnosing rollouts: %s; watching Deployments alone (--diagnose=false hides this)\n", oneLine(err.Error()))
		}
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	runCtx, stopTracker := context.WithCancel(ctx)
	defer stopTracker()

	printer := o.printer(topts.Describe())
	var sink tracker.Sink = printer
	if o.Output != "ndjson" && !o.IsTerminal(o.Out) {
		sink = &emptyNotice{Sink: sink, errOut: o.ErrOut, where: o.namespace}
	}
	if o.Output == "ndjson" || !o.IsTerminal(o.Out) {
		// The live table says it in its title; piped, stdout stays a list
		// of Deployment events and the outage is told on stderr.
		sink = &healthNotice{Sink: sink, errOut: o.ErrOut, what: topts.Describe()}
	}
	sink = &syncFlag{Sink: sink, synced: &synced}
	var done *completion
	if o.UntilComplete {
		done = newCompletion(sink, stopTracker, o.FailingGrace)
		sink = done
	}
	err := tracker.New(o.clients.Kube.AppsV1(), topts).Run(runCtx, sink)
	closeErr := printer.Close()
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return explainAPIError(err, o.clients.Config, o.forbiddenHint())
	}
	if closeErr != nil && !isBrokenPipe(closeErr) {
		return fmt.Errorf("writing output: %w", closeErr)
	}
	if done != nil {
		return done.result(ctx, o.Timeout)
	}
	return nil
}

// checkNamespace reports a namespace that does not exist instead of waiting
// on it silently. Without permission to read namespaces, it trusts the user.
func (o *WatchOptions) checkNamespace(ctx context.Context) error {
	if o.namespace == "" {
		return nil
	}
	_, err := o.clients.Kube.CoreV1().Namespaces().Get(ctx, o.namespace, metav1.GetOptions{})
	switch {
	case err == nil, apierrors.IsForbidden(err):
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("namespace %q not found; list namespaces with 'kubectl get namespaces'%s", o.namespace, subcommandHint(o.namespace))
	default:
		return explainAPIError(err, o.clients.Config, "")
	}
}

// subcommandHint catches a mistyped subcommand taken for a namespace.
func subcommandHint(arg string) string {
	for _, sub := range []string{"watch", "scale", "set-image", "serve", "version", "completion", "help"} {
		if levenshtein(arg, sub) <= 2 {
			return fmt.Sprintf(", or did you mean 'kubectl deploywatch %s'?", sub)
		}
	}
	return ""
}

func (o *WatchOptions) forbiddenHint() string {
	if o.namespace == "" {
		return "you may not watch Deployments in every namespace: pick one with -n NAMESPACE, or ask for list and watch on deployments cluster-wide"
	}
	return fmt.Sprintf("ask for list and watch on deployments in namespace %q, check with 'kubectl auth can-i watch deployments -n %s'", o.namespace, o.namespace)
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

func (o *WatchOptions) printer(title string) printer {
	popts := printers.Options{
		Wide:          o.Output == "wide",
		AllNamespaces: o.namespace == "",
	}
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

// syncFlag raises synced once the first table is out.
type syncFlag struct {
	tracker.Sink
	synced *atomic.Bool
}

func (s *syncFlag) OnSynced(snapshot []deployment.Summary) {
	s.Sink.OnSynced(snapshot)
	s.synced.Store(true)
}

func (s *syncFlag) OnHealth(h tracker.Health) { tracker.TellHealth(s.Sink, h) }

// healthNotice prints one warning line on stderr when the watch is lost and
// one when it is back, so a reader of a pipe knows which rows may be stale.
type healthNotice struct {
	tracker.Sink
	errOut io.Writer
	what   string
	lost   *tracker.Health // since when, while lost
}

func (n *healthNotice) OnHealth(h tracker.Health) {
	switch {
	case h.State == tracker.Reconnecting && n.lost == nil:
		n.lost = &h
		fmt.Fprintf(n.errOut, "warning: lost the watch of %s at %s, reconnecting: %s\n",
			n.what, h.Since.Local().Format(time.TimeOnly), oneLine(fmt.Sprint(h.Err)))
	case h.State == tracker.Live && n.lost != nil:
		fmt.Fprintf(n.errOut, "warning: the watch of %s is back at %s after %s; the rows that follow are current\n",
			n.what, h.Since.Local().Format(time.TimeOnly), h.Since.Sub(n.lost.Since).Round(time.Second))
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

// completion wraps a printer and stops the watch once every Deployment is
// complete, or one has failed (Failed, paused with old replicas left, or Failing
// for longer than the grace period).
type completion struct {
	tracker.Sink
	stop func()

	mu      sync.Mutex
	judge   deployment.Judge
	timer   *time.Timer // re-judges when a Failing rollout's grace ends
	state   map[string]deployment.Summary
	synced  bool
	outcome string // "", "complete" or "failed"
	failed  deployment.Summary
	// health is the watch's; while it is not live nothing is decided: the
	// state may be stale, and the events after the outage bring the truth.
	health tracker.Health
}

func (c *completion) OnHealth(h tracker.Health) {
	tracker.TellHealth(c.Sink, h)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.health = h
	c.checkLocked() // back: decide on what the relist or resumed watch brought
}

func (c *completion) liveLocked() bool {
	return c.health.State == "" || c.health.State == tracker.Live
}

func newCompletion(next tracker.Sink, stop func(), grace time.Duration) *completion {
	return &completion{Sink: next, stop: stop, state: map[string]deployment.Summary{}, judge: deployment.Judge{Grace: grace}}
}

func (c *completion) OnEvent(e deployment.Event) {
	c.Sink.OnEvent(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Type == deployment.Deleted {
		delete(c.state, e.Key())
		c.judge.Forget(e.Key())
	} else {
		c.state[e.Key()] = e.Summary
	}
	c.checkLocked()
}

func (c *completion) OnSynced(snapshot []deployment.Summary) {
	c.Sink.OnSynced(snapshot)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced = true
	for _, s := range snapshot { // --initial=false delivers no ADDED events
		c.state[s.Key()] = s
	}
	c.checkLocked()
}

func (c *completion) checkLocked() {
	if !c.synced || c.outcome != "" || !c.liveLocked() {
		return
	}
	keys := make([]string, 0, len(c.state))
	for k := range c.state {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first failure by name, on every run
	complete := true
	var next time.Time
	for _, k := range keys {
		s := c.state[k]
		verdict, deadline := c.judge.Verdict(&s)
		switch verdict {
		case deployment.Failure:
			c.outcome, c.failed = "failed", s
			c.stop()
			return
		case deployment.Pending:
			complete = false
			if !deadline.IsZero() && (next.IsZero() || deadline.Before(next)) {
				next = deadline
			}
		}
	}
	if complete {
		c.outcome = "complete"
		c.stop()
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if !next.IsZero() {
		c.timer = time.AfterFunc(time.Until(next), func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.checkLocked()
		})
	}
}

// result turns the outcome into the exit: nil, failed (1), timeout (2) or
// interrupted (130 for Ctrl-C, 143 for SIGTERM).
func (c *completion) result(ctx context.Context, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	switch c.outcome {
	case "complete":
		return nil
	case "failed":
		return &ExitError{Code: exitFailure, Err: fmt.Errorf("deployment %s is %s: %s", c.failed.Key(), c.failed.Status, c.failed.Message)}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if !c.liveLocked() {
			h := c.health
			return &ExitError{Code: exitTimeout, Err: fmt.Errorf("timed out after %s while the watch was lost (reconnecting since %s: %s); the last state seen, possibly stale: %s",
				timeout, h.Since.Local().Format(time.TimeOnly), oneLine(fmt.Sprint(h.Err)), c.pendingLocked())}
		}
		return &ExitError{Code: exitTimeout, Err: fmt.Errorf("timed out after %s waiting for %s", timeout, c.pendingLocked())}
	}
	return &ExitError{Code: interruptCode(ctx), Err: fmt.Errorf("interrupted while waiting for %s", c.pendingLocked())}
}

func (c *completion) pendingLocked() string {
	var pending []string
	for _, s := range c.state {
		if !s.Complete() {
			entry := fmt.Sprintf("%s (%s)", s.Key(), s.Status)
			if s.Status == deployment.Failing {
				entry = fmt.Sprintf("%s (%s: %s)", s.Key(), s.Status, s.Message)
			}
			pending = append(pending, entry)
		}
	}
	sort.Strings(pending)
	if len(pending) == 0 {
		return "the deployments to be listed"
	}
	return strings.Join(pending, ", ")
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

func isBrokenPipe(err error) bool {
	return err != nil && strings.Contains(err.Error(), "broken pipe")
}

// levenshtein is the edit distance between a and b.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
