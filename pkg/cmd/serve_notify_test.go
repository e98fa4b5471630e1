package cmd

import (
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
		{"bad lease name", func(o *notifyOptions) { o.LeaseName = "Lease!" }, `invalid --leader-election-id "Lease!"`},
		{"renew not below lease", func(o *notifyOptions) { o.RenewDeadline = o.LeaseDuration }, "leader election needs --leader-elect-retry-period (2s) < --leader-elect-renew-deadline (15s) < --leader-elect-lease-duration (15s); e.g. 2s < 10s < 15s"},
		{"retry not below renew", func(o *notifyOptions) { o.RetryPeriod = 10 * time.Second }, "leader election needs --leader-elect-retry-period (10s) < --leader-elect-renew-deadline (10s)"},
		{"flags without a webhook", func(o *notifyOptions) {
			o.Webhooks, o.changed = nil, []string{"--notify-on", "--leader-elect-lease-duration"}
		}, "--notify-on, --leader-elect-lease-duration has no use without --notify-webhook: add a webhook URL or drop the flag"},
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
