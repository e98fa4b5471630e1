package cmd

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestServeValidateNotify(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*notifyOptions)
		want string // "" means valid
	}{
		{"defaults with a webhook", func(o *notifyOptions) {}, ""},
		{"every kind, slack", func(o *notifyOptions) {
			o.On, o.Format = []string{"failed", "recovered", "started", "completed"}, "slack"
		}, ""},
		{"bad URL", func(o *notifyOptions) { o.Webhooks = append(o.Webhooks, "hooks.example.com/x") }, `invalid --notify-webhook "hooks.example.com/x": use an absolute http:// or https:// URL`},
		{"bad kind", func(o *notifyOptions) { o.On = []string{"failed", "oops"} }, `invalid --notify-on value "oops"`},
		{"bad format", func(o *notifyOptions) { o.Format = "teams" }, `invalid --notify-format "teams": use json or slack`},
		{"bad namespace", func(o *notifyOptions) { o.Namespaces = []string{"Shop"} }, `invalid namespace "Shop" in --notify-namespaces`},
		{"bad lease name", func(o *notifyOptions) { o.LeaseName = "Lease!" }, `invalid --leader-elect-resource-name "Lease!"`},
		{"renew not below lease", func(o *notifyOptions) { o.RenewDeadline = o.LeaseDuration }, "leader election needs --leader-elect-retry-period (2s) < --leader-elect-renew-deadline (15s) < --leader-elect-lease-duration (15s); e.g. 2s < 10s < 15s"},
		{"retry not below renew", func(o *notifyOptions) { o.RetryPeriod = 10 * time.Second }, "leader election needs --leader-elect-retry-period (10s) < --leader-elect-renew-deadline (10s)"},
		{"flags without a webhook", func(o *notifyOptions) {
			o.Webhooks, o.changed = nil, []string{"--notify-on", "--leader-elect-lease-duration"}
		}, "--notify-on, --leader-elect-lease-duration has no use without --notify-webhook: add a webhook URL or drop the flag"},
		{"a flag under both names", func(o *notifyOptions) {
			o.both = []string{"--leader-elect-resource-name and its former name --leader-election-id are both set: keep --leader-elect-resource-name only"}
		}, "--leader-elect-resource-name and its former name --leader-election-id are both set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := NewServeOptions(nil, genericiooptions.NewTestIOStreamsDiscard())
			o.notify.Webhooks = []string{"https://hooks.example.com/T/B/X"}
			o.notify.LeaseNamespace, o.notify.Identity = "deploywatch", "me"
			c.edit(&o.notify)
			err := o.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n")):
				t.Errorf("Validate() = %v, want one line containing %q", err, c.want)
			}
		})
	}
}

// TestServeLeaderElectFlagsFormerNames: the leader election flags' former
// names still set the same options, hidden from help, each with a notice on
// stderr (stdout carries serve's URL); both names at once is a problem.
func TestServeLeaderElectFlagsFormerNames(t *testing.T) {
	cmd := NewCmdServe(nil, genericiooptions.NewTestIOStreamsDiscard())
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.ParseFlags([]string{"--leader-election-namespace", "ops", "--leader-election-id", "alerts", "--leader-election-identity", "pod-0"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"leader-elect-resource-namespace": "ops", "leader-elect-resource-name": "alerts", "leader-elect-identity": "pod-0"} {
		if got := cmd.Flags().Lookup(name).Value.String(); got != want {
			t.Errorf("--%s is %q after its former name was given %q", name, got, want)
		}
	}
	wantNotices := "Flag --leader-election-namespace has been deprecated, use --leader-elect-resource-namespace instead\n" +
		"Flag --leader-election-id has been deprecated, use --leader-elect-resource-name instead\n" +
		"Flag --leader-election-identity has been deprecated, use --leader-elect-identity instead\n"
	if stderr.String() != wantNotices || stdout.Len() != 0 {
		t.Errorf("stderr %q, stdout %q; want the three notices on stderr only", stderr.String(), stdout.String())
	}
	if help := cmd.Flags().FlagUsages(); strings.Contains(help, "leader-election-") || !strings.Contains(help, "--leader-elect-resource-name") {
		t.Errorf("help shows a former name, or not the new one:\n%s", help)
	}

	o := newNotifyOptions()
	cmd = NewCmdServe(nil, genericiooptions.NewTestIOStreamsDiscard())
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.ParseFlags([]string{"--leader-elect-resource-name", "a", "--leader-election-id", "b"}); err != nil {
		t.Fatal(err)
	}
	o.complete(cmd, "default")
	if len(o.both) != 1 || !strings.Contains(o.both[0], "keep --leader-elect-resource-name only") {
		t.Errorf("both names given: problems %q; want one saying to keep the new name", o.both)
	}
}
