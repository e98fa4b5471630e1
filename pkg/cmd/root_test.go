package cmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/gate"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// kubeconfig writes a kubeconfig whose server nothing listens on: enough for
// everything before the first request.
func kubeconfig(t *testing.T) string {
	t.Helper()
	return writeKubeconfig(t, "- name: ctx\n  context: {cluster: c, user: u, namespace: team}\ncurrent-context: ctx\n")
}

// writeKubeconfig writes a kubeconfig with cluster c on a port where nothing
// listens, user u, and the contexts given (YAML, from "- name:" on).
func writeKubeconfig(t *testing.T, contexts string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	cfg := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
` + contexts
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// execute runs the command tree as main does and returns the exit code and
// what it printed.
func execute(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewCmdRoot(streams)
	root.SetArgs(args)
	code = Execute(root, streams)
	return code, out.String(), errOut.String()
}

func TestRootHasKubectlConfigFlags(t *testing.T) {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	for _, name := range []string{"kubeconfig", "context", "cluster", "user", "namespace", "as", "as-group", "token",
		"request-timeout", "server", "insecure-skip-tls-verify", "certificate-authority", "client-certificate", "client-key"} {
		if root.PersistentFlags().Lookup(name) == nil {
			t.Errorf("--%s is missing", name)
		}
	}
	if f := root.PersistentFlags().ShorthandLookup("n"); f == nil || f.Name != "namespace" {
		t.Errorf("-n is not --namespace")
	}
	for _, sub := range []string{"watch", "scale", "set-image", "serve", "version"} { // completion is added at execution; see TestCompletionScripts
		if c, _, err := root.Find([]string{sub}); err != nil || c.Name() != sub {
			t.Errorf("subcommand %s: found %v, %v", sub, c.Name(), err)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_kubectl-deploywatch",
		"zsh":  "#compdef kubectl-deploywatch",
		"fish": "complete -c kubectl-deploywatch",
	} {
		code, out, errOut := execute(t, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", shell, code, errOut, want)
		}
	}
}

// TestBareNamespaceIsWatch: `kubectl deploywatch NS ...` takes watch's flags
// and validation, and the argument as the namespace.
func TestBareNamespaceIsWatch(t *testing.T) {
	cfg := kubeconfig(t)
	code, _, errOut := execute(t, "shop", "-o", "yaml", "--kubeconfig", cfg)
	if code != 1 || !strings.Contains(errOut, `error: unknown output format "yaml": use one of table, wide, ndjson`) {
		t.Errorf("exit %d, stderr %q; want watch's output format error", code, errOut)
	}
	code, _, errOut = execute(t, "shop", "-n", "bank", "--kubeconfig", cfg)
	if code != 1 || !strings.Contains(errOut, `namespace given twice: argument "shop" and -n "bank"`) {
		t.Errorf("exit %d, stderr %q; want the namespace given twice", code, errOut)
	}
	code, _, errOut = execute(t, "a", "b", "--kubeconfig", cfg)
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "error: ") {
		t.Errorf("two arguments: exit %d, stderr %q; want one error line", code, errOut)
	}
}

func TestConfigErrorsAreOneLineWithAFix(t *testing.T) {
	cfg := kubeconfig(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "--kubeconfig", filepath.Join(t.TempDir(), "missing")}, "check the --kubeconfig path or KUBECONFIG"},
		{[]string{"watch", "--kubeconfig", cfg, "--context", "nope"}, "list the contexts with 'kubectl config get-contexts'"},
		{[]string{"watch", "--kubeconfig", cfg, "--request-timeout", "2s"}, "127.0.0.1:1"},
	} {
		code, _, errOut := execute(t, tt.args...)
		if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want one line with %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestWatchValidate(t *testing.T) {
	tests := []struct {
		name string
		set  func(*WatchOptions)
		want []string
	}{
		{"defaults", func(*WatchOptions) {}, nil},
		{"ndjson until complete with a timeout", func(o *WatchOptions) { o.Output, o.UntilComplete, o.Timeout = "ndjson", true, time.Minute }, nil},
		{"unknown format", func(o *WatchOptions) { o.Output = "json" }, []string{`unknown output format "json"`}},
		{"bad label selector", func(o *WatchOptions) { o.LabelSelector = "app in (web" }, []string{`invalid --selector "app in (web"`, "-l app=web"}},
		{"bad field selector", func(o *WatchOptions) { o.FieldSelector = "metadata.name" }, []string{`invalid --field-selector "metadata.name"`}},
		{"timeout without until-complete", func(o *WatchOptions) { o.Timeout = time.Minute }, []string{"--timeout only applies with --until-complete"}},
		{"fail-on-gap without until-complete", func(o *WatchOptions) { o.FailOnGap = true }, []string{"--fail-on-gap only applies with --until-complete"}},
		{"fail-on-gap with --diagnose=false", func(o *WatchOptions) { o.FailOnGap, o.UntilComplete, o.Diagnose = true, true, false },
			[]string{"--fail-on-gap needs the Services and EndpointSlices that --diagnose=false leaves unread"}},
		{"fail-on-gap until complete", func(o *WatchOptions) { o.FailOnGap, o.UntilComplete = true, true }, nil},
		{"kinds by kubectl's names", func(o *WatchOptions) { o.Kind = "sts,DaemonSets,deploy" }, nil},
		{"an unknown kind", func(o *WatchOptions) { o.Kind = "deploy,pods" },
			[]string{`--kind: unknown kind "pods": use deploy, sts or ds (or deployment, statefulset, daemonset), comma-separated`}},
		{"a namespace argument and -A", func(o *WatchOptions) { o.AllNamespaces, o.namespaceArg = true, "demo" },
			[]string{`-A and the namespace argument "demo" exclude each other`}},
		{"everything at once", func(o *WatchOptions) {
			o.Output, o.Timeout, o.UntilComplete = "x", -time.Second, true
			o.AllNamespaces, o.clients = true, &clients{ExplicitNamespace: true}
		}, []string{"unknown output format", "--timeout must not be negative", "-A and -n exclude each other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewWatchOptions(nil, genericiooptions.NewTestIOStreamsDiscard())
			tt.set(o)
			checkProblems(t, o.Validate(), tt.want)
		})
	}
}

// checkProblems checks a Validate error: none when want is empty, else one
// error naming every problem in want.
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

// commandTree is the root command with the subcommands cobra adds when it
// executes (help, completion), as a namespace check sees it.
func commandTree() *cobra.Command {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

func TestSubcommandHint(t *testing.T) {
	root := commandTree()
	for arg, want := range map[string]string{
		"wacth": "did you mean 'kubectl deploywatch watch'", "serv": "serve", "shop": "", "payments": "",
	} {
		got := subcommandHint(root, arg)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("subcommandHint(%q) = %q, want %q", arg, got, want)
		}
	}
}

// TestSubcommandHintCoversEveryCommand: a subcommand with two letters
// swapped is hinted, for every subcommand of the tree, so a new one needs
// no list kept by hand.
func TestSubcommandHintCoversEveryCommand(t *testing.T) {
	root := commandTree()
	var hinted []string
	for _, sub := range root.Commands() {
		if !sub.IsAvailableCommand() {
			continue // hidden, and help, which cobra never suggests
		}
		name := sub.Name()
		typo := name[:1] + name[2:3] + name[1:2] + name[3:]
		want := "'kubectl deploywatch " + name + "'"
		if got := subcommandHint(root, typo); !strings.Contains(got, want) {
			t.Errorf("subcommandHint(%q) = %q, want it to suggest %s", typo, got, want)
		}
		if got := subcommandHint(root, name[:len(name)-1]); !strings.Contains(got, want) {
			t.Errorf("subcommandHint(%q) = %q, want it to suggest %s", name[:len(name)-1], got, want)
		}
		hinted = append(hinted, name)
	}
	for _, name := range []string{"watch", "scale", "set-image", "history", "undo", "restart", "pause", "resume", "serve", "version", "completion", "check"} {
		if !slices.Contains(hinted, name) {
			t.Errorf("subcommand %q was not tried; tried %q", name, hinted)
		}
	}
}

type nopSink struct{}

func (nopSink) OnEvent(deployment.Event)      {}
func (nopSink) OnSynced([]deployment.Summary) {}

func summary(name string, status deployment.Status, msg string) deployment.Summary {
	return deployment.Summary{Namespace: "shop", Name: name, Status: status, Message: msg}
}

// TestWaitExitCodes: how a wait of package gate ends is the exit code: 1
// when a rollout failed, 2 on --timeout, 130 (128+signal) when interrupted.
func TestWaitExitCodes(t *testing.T) {
	failed := gate.NewView(nopSink{}, func() {}, gate.ViewOptions{FailingGrace: time.Minute})
	failed.OnSynced([]deployment.Summary{summary("web", deployment.Running, ""), summary("api", deployment.Failed, "ProgressDeadlineExceeded: timed out")})
	var exit *ExitError
	err := exitOf(context.Background(), failed.Result(context.Background(), 0))
	if !errors.As(err, &exit) || exit.Code != exitFailure || !strings.Contains(err.Error(), "deployment shop/api is Failed: ProgressDeadlineExceeded: timed out") {
		t.Fatalf("result = %v, want exit 1 naming shop/api", err)
	}

	c := gate.NewView(nopSink{}, func() {}, gate.ViewOptions{FailingGrace: time.Minute})
	c.OnSynced([]deployment.Summary{summary("web", deployment.Scaling, ""), summary("api", deployment.Running, "")})
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	err = exitOf(ctx, c.Result(ctx, 3*time.Second))
	if !errors.As(err, &exit) || exit.Code != exitTimeout || err.Error() != "timed out after 3s waiting for shop/web (Scaling)" {
		t.Fatalf("result = %v, want exit 2 naming shop/web", err)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := exitOf(canceled, c.Result(canceled, 0)); !errors.As(err, &exit) || exit.Code != exitSignal {
		t.Fatalf("result after an interrupt = %v, want exit 130", err)
	}
	for sig, code := range map[os.Signal]int{os.Interrupt: 130, syscall.SIGTERM: 143} {
		signaled, cancel3 := context.WithCancelCause(context.Background())
		cancel3(signalCause{sig})
		if err := exitOf(signaled, c.Result(signaled, 0)); !errors.As(err, &exit) || exit.Code != code {
			t.Errorf("result after %v = %v, want exit %d", sig, err, code)
		}
	}

	other := errors.New("connection refused")
	if exitOf(ctx, nil) != nil || exitOf(ctx, other) != other {
		t.Error("exitOf changed nil or an error that is no end of a wait")
	}
}

func TestHealthNoticeOneLineLostOneLineBack(t *testing.T) {
	var errOut bytes.Buffer
	n := &healthNotice{Sink: nopSink{}, errOut: &errOut, what: `deployments in namespace "shop"`}
	lostAt := time.Date(2026, 12, 2, 14, 9, 0, 0, time.Local)
	n.OnHealth(tracker.Health{State: tracker.Reconnecting, Since: lostAt, Err: errors.New("connection\nrefused")})
	n.OnHealth(tracker.Health{State: tracker.Reconnecting, Since: lostAt, Err: errors.New("EOF")}) // another error: no line
	n.OnHealth(tracker.Health{State: tracker.Live, Since: lostAt.Add(27 * time.Second)})
	n.OnHealth(tracker.Health{State: tracker.Relisting, Since: lostAt.Add(time.Hour)}) // not lost: no line
	n.OnHealth(tracker.Health{State: tracker.Live, Since: lostAt.Add(time.Hour)})
	want := `warning: lost the watch of deployments in namespace "shop" at 14:09:00, reconnecting: connection refused
warning: the watch of deployments in namespace "shop" is back at 14:09:27 after 27s; the rows that follow are current
`
	if errOut.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut.String(), want)
	}
}

func TestEmptyNotice(t *testing.T) {
	var errOut bytes.Buffer
	n := &emptyNotice{Sink: nopSink{}, errOut: &errOut, where: "shop"}
	n.OnSynced(nil)
	if errOut.String() != "No resources found in shop namespace.\n" {
		t.Errorf("empty namespace: %q", errOut.String())
	}
	errOut.Reset()
	n.OnSynced([]deployment.Summary{summary("web", deployment.Running, "")})
	if errOut.Len() != 0 {
		t.Errorf("a namespace with deployments printed %q", errOut.String())
	}
}

// TestSecondSignalEndsAtOnce: the first signal cancels the command's context
// (its cause a context.Canceled naming the signal) and Execute waits for the
// command's shutdown; a second one returns 128+signal at once, while the
// command is still shutting down.
func TestSecondSignalEndsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		second os.Signal
		code   int
		says   string
	}{
		{os.Interrupt, 130, "error: interrupted again"},
		{syscall.SIGTERM, 143, "error: terminated again"},
	} {
		canceled := make(chan error, 1)
		release := make(chan struct{})
		defer close(release)
		root := &cobra.Command{Use: "slow", SilenceUsage: true, RunE: func(cmd *cobra.Command, _ []string) error {
			<-cmd.Context().Done()
			canceled <- context.Cause(cmd.Context())
			<-release // a shutdown that would take long
			return nil
		}}
		root.SetArgs(nil)
		streams, _, _, errOut := genericiooptions.NewTestIOStreams()
		signals := make(chan os.Signal, 2)
		code := make(chan int, 1)
		go func() { code <- executeWith(root, streams, signals) }()

		signals <- os.Interrupt
		cause := <-canceled
		if !errors.Is(cause, context.Canceled) || cause.Error() != "interrupt signal received" {
			t.Errorf("cause %v, want a context.Canceled saying the signal", cause)
		}
		select {
		case c := <-code:
			t.Fatalf("Execute returned %d after one signal, before the command ended", c)
		default:
		}
		signals <- tc.second
		if got := <-code; got != tc.code {
			t.Errorf("exit code %d after a second %v, want %d", got, tc.second, tc.code)
		}
		if !strings.HasPrefix(errOut.String(), tc.says) || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("stderr %q, want one line starting %q", errOut.String(), tc.says)
		}
	}
}

// TestOneSignalWaitsForTheCommand: after one signal, the command's own
// result is the exit code.
func TestOneSignalWaitsForTheCommand(t *testing.T) {
	root := &cobra.Command{Use: "quick", SilenceUsage: true, SilenceErrors: true, RunE: func(cmd *cobra.Command, _ []string) error {
		<-cmd.Context().Done()
		return &ExitError{Code: exitSignal, Err: errors.New("interrupted while waiting")}
	}}
	root.SetArgs(nil)
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	signals := make(chan os.Signal, 2)
	signals <- os.Interrupt
	if got := executeWith(root, streams, signals); got != exitSignal || errOut.String() != "error: interrupted while waiting\n" {
		t.Errorf("exit %d, stderr %q", got, errOut.String())
	}
}
