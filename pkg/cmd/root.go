// Package cmd holds the cobra commands of kubectl-deploywatch: one file per
// subcommand, each an Options struct with Complete, Validate and Run, as
// kubectl's own commands are written. The logic lives in other packages.
package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

const displayName = "kubectl deploywatch"

// Exit codes, documented in docs/watch.md.
const (
	exitOK      = 0
	exitFailure = 1 // an error, or a watched rollout Failed
	exitTimeout = 2 // --timeout ran out before the rollout settled
	exitSignal  = 130
)

// ExitError ends the command with a chosen exit code and message.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// options is what every subcommand's Options implements.
type options interface {
	Complete(cmd *cobra.Command, args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// run drives an Options through its three steps. Usage is printed only for
// problems found before Run: a runtime error is not a usage mistake.
func run(cmd *cobra.Command, args []string, o options) error {
	if err := o.Complete(cmd, args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	return o.Run(cmd.Context())
}

// NewCmdRoot builds the command tree. A bare `kubectl deploywatch NAMESPACE`
// means `kubectl deploywatch watch NAMESPACE`.
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	watch := NewWatchOptions(configFlags, streams)
	root := &cobra.Command{
		Use:   "kubectl-deploywatch [NAMESPACE]",
		Short: "See and steer Deployments live",
		Long: `See every Deployment in a namespace live, with a status you can read at a glance,
and change replicas or images safely.

Without a subcommand, deploywatch watches: "kubectl deploywatch NAMESPACE" is
"kubectl deploywatch watch NAMESPACE".`,
		Example: `  # Watch the Deployments of the current namespace, live
  kubectl deploywatch

  # Wait in CI until every Deployment in "shop" has rolled out
  kubectl deploywatch shop --until-complete --timeout 5m

  # Scale and follow the rollout
  kubectl deploywatch scale web --replicas 5 --wait`,
		Args:              cobra.MaximumNArgs(1),
		SilenceErrors:     true,
		SilenceUsage:      true,
		Annotations:       map[string]string{cobra.CommandDisplayNameAnnotation: displayName},
		RunE:              func(cmd *cobra.Command, args []string) error { return run(cmd, args, watch) },
		ValidArgsFunction: completeNamespaces(configFlags),
	}
	// subcommandHint's edit distance: cobra sets this only when it suggests.
	root.SuggestionsMinimumDistance = 2
	configFlags.AddFlags(root.PersistentFlags())
	// --context may be repeated, or list several contexts, for watch and serve.
	if f := root.PersistentFlags().Lookup("context"); f != nil {
		f.Value = &contextList{p: configFlags.Context}
		f.Usage = "the kubeconfig context to use; watch and serve take several (repeated, or comma-separated)"
	}
	watch.AddFlags(root.Flags())
	root.AddCommand(
		NewCmdWatch(configFlags, streams),
		NewCmdScale(configFlags, streams),
		NewCmdSetImage(configFlags, streams),
		NewCmdHistory(configFlags, streams),
		NewCmdUndo(configFlags, streams),
		NewCmdRestart(configFlags, streams),
		NewCmdPause(configFlags, streams),
		NewCmdResume(configFlags, streams),
		NewCmdServe(configFlags, streams),
		NewCmdCheck(configFlags, streams),
		NewCmdVersion(streams),
	)
	registerCompletions(root, configFlags)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w; see '%s --help'", err, cmd.CommandPath())
	})
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	explainKubectlCompletion(root) // after SetOut: cobra's scripts keep the output they find
	return root
}

// Execute runs root and returns the process exit code. Errors are printed
// here, once, as a single line (a failed wait's next steps follow it).
//
// The first SIGINT or SIGTERM cancels the command's context, so it can shut
// down gracefully (serve drains, watch restores the terminal). A second one
// ends the wait for that at once: Execute returns 128+signal (130 for
// Ctrl-C) without waiting for the command, and main exits with it, as a user
// pressing Ctrl-C again expects.
func Execute(root *cobra.Command, streams genericiooptions.IOStreams) int {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	return executeWith(root, streams, signals)
}

// executeWith is Execute with the signals given.
func executeWith(root *cobra.Command, streams genericiooptions.IOStreams, signals <-chan os.Signal) int {
	quietKlog()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var err error
	select {
	case err = <-done:
	case sig := <-signals:
		// As signal.NotifyContext says it: the cause names the signal and
		// is a context.Canceled.
		cancel(signalCause{sig})
		select {
		case err = <-done:
		case sig := <-signals:
			fmt.Fprintf(streams.ErrOut, "error: %s again: exiting without waiting for the shutdown to finish\n", signalName(sig))
			return signalCode(sig)
		}
	}
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var exit *ExitError
	if errors.As(err, &exit) {
		code = exit.Code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(streams.ErrOut, "error: "+oneLine(msg))
		printNextSteps(streams.ErrOut, err)
	}
	return code
}

// signalCause is why the first signal canceled the context, in the words of
// signal.NotifyContext ("interrupt signal received"); it is a
// context.Canceled.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string        { return c.sig.String() + " signal received" }
func (c signalCause) Is(target error) bool { return target == context.Canceled }

// interruptCode is the exit code of a command a signal interrupted while
// it waited: 128+signal, 130 for Ctrl-C and 143 for SIGTERM, as a shell
// reports a process the signal ended.
func interruptCode(ctx context.Context) int {
	var cause signalCause
	if errors.As(context.Cause(ctx), &cause) {
		return signalCode(cause.sig)
	}
	return exitSignal
}

// signalCode is the shell's exit code for a process a signal ended.
func signalCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitSignal
}

func signalName(sig os.Signal) string {
	if sig == os.Interrupt {
		return "interrupted"
	}
	return "terminated"
}

// quietKlog keeps client-go's internal logging off the terminal: deploywatch
// reports what matters itself. DEPLOYWATCH_KLOG_V=N turns it back on.
func quietKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	if v := os.Getenv("DEPLOYWATCH_KLOG_V"); v != "" {
		_ = fs.Set("v", v)
		return
	}
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
