package explain_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

var deployments = schema.GroupResource{Group: "apps", Resource: "deployments"}

func TestConfig(t *testing.T) {
	_, missingFile := clientcmd.LoadFromFile(filepath.Join(t.TempDir(), "missing"))
	raw := clientcmdapi.Config{
		Clusters:  map[string]*clientcmdapi.Cluster{"c": {Server: "https://127.0.0.1:1"}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{"u": {Token: "t"}},
		Contexts:  map[string]*clientcmdapi.Context{"a": {Cluster: "c", AuthInfo: "u"}, "b": {Cluster: "gone", AuthInfo: "u"}},
	}
	other := errors.New("something else")
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"empty", clientcmd.ConfirmUsable(clientcmdapi.Config{}, ""),
			"no cluster configured: set --kubeconfig or KUBECONFIG, or run inside a cluster: invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable"},
		{"no such file", missingFile, "cannot read kubeconfig: "},
		{"no such context", clientcmd.ConfirmUsable(raw, "nope"),
			"context was not found for specified context: nope; list the contexts with 'kubectl config get-contexts'"},
		{"invalid", clientcmd.ConfirmUsable(raw, "b"),
			`invalid kubeconfig: invalid configuration: [cluster "gone" was not found for context "b", no server found for cluster "gone"]; check it with 'kubectl config view'`},
		{"other", other, "something else"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := explain.Config(tt.err)
			if tt.name == "no such file" {
				if !errors.Is(got, os.ErrNotExist) || got.Error()[:len(tt.want)] != tt.want {
					t.Fatalf("Config() = %q, want it to start with %q and wrap ErrNotExist", got, tt.want)
				}
				return
			}
			if got.Error() != tt.want {
				t.Errorf("Config() = %q\nwant       %q", got, tt.want)
			}
			// client-go's list of problems matches no errors.Is target:
			// look for it in the chain.
			var all utilerrors.Aggregate
			if errors.As(tt.err, &all) && !errors.As(got, &all) || tt.err == other && got != other {
				t.Errorf("Config() = %v does not wrap %v", got, tt.err)
			}
		})
	}
}

func TestAPI(t *testing.T) {
	const host = "https://127.0.0.1:6443"
	forbidden := apierrors.NewForbidden(deployments, "", errors.New("no"))
	unreachable := &url.Error{Op: "Get", URL: host + "/api", Err: fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED)}
	other := apierrors.NewInternalError(errors.New("boom"))
	for _, tt := range []struct {
		name, hint string
		err        error
		want       string
	}{
		{"forbidden", "", fmt.Errorf("wrapped: %w", forbidden),
			`deployments.apps is forbidden: no; check your permissions with 'kubectl auth can-i'`},
		{"forbidden with a hint", "ask for list", forbidden, `deployments.apps is forbidden: no; ask for list`},
		{"unauthorized", "", apierrors.NewUnauthorized("who"),
			"the API server at " + host + " rejected your credentials (401 Unauthorized); log in again or check --user and --token"},
		{"unreachable", "", unreachable,
			"cannot reach the API server at " + host + ": connection refused; check that the cluster is running and that --context, --server or --kubeconfig point at it"},
		{"other", "", other, other.Error()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := explain.API(tt.err, host, tt.hint)
			if got.Error() != tt.want {
				t.Errorf("API() = %q\nwant    %q", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("API() = %v does not wrap %v", got, tt.err)
			}
		})
	}
	if explain.API(nil, host, "") != nil {
		t.Error("API(nil) is not nil")
	}
}

func TestOperation(t *testing.T) {
	notFound := &operations.Error{Reason: operations.NotFound, Message: `deployment "web" not found in namespace "shop"`,
		Hint: "list them with 'kubectl get deployments -n shop'", Err: apierrors.NewNotFound(deployments, "web")}
	noRevision := &operations.Error{Reason: operations.NotFound, Message: "revision 9 not found",
		Problems: []operations.Problem{{Field: "revision", Message: "revision 9 not found"}}}
	forbidden := &operations.Error{Reason: operations.Forbidden, Message: "forbidden", Hint: "scale needs update",
		Err: apierrors.NewForbidden(deployments, "web", errors.New("no"))}
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	for _, tt := range []struct {
		name       string
		err        error
		namespaces bool // whether namespace shop exists
		want       string
		asked      int // namespace reads
	}{
		{"not found, namespace there", notFound, true,
			`deployment "web" not found in namespace "shop"; list them with 'kubectl get deployments -n shop'`, 1},
		{"not found, no namespace", notFound, false,
			`deployment "web" not found: namespace "shop" does not exist; list namespaces with 'kubectl get namespaces'`, 1},
		{"no such revision", fmt.Errorf("undo: %w", noRevision), false, "revision 9 not found", 0},
		{"its own words, not API's", forbidden, true, "forbidden; scale needs update", 0},
		{"any other error", apierrors.NewUnauthorized("who"), true,
			"the API server at https://h rejected your credentials (401 Unauthorized); log in again or check --user and --token", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientset()
			if tt.namespaces {
				c = fake.NewClientset(shop)
			}
			got := explain.Operation(context.Background(), tt.err,
				explain.Target{Host: "https://h", Namespaces: c.CoreV1(), Namespace: "shop", Name: "web"})
			if got.Error() != tt.want {
				t.Errorf("Operation() = %q\nwant          %q", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("Operation() = %v does not wrap %v", got, tt.err)
			}
			if n := len(c.Actions()); n != tt.asked {
				t.Errorf("%d requests, want %d: %v", n, tt.asked, c.Actions())
			}
		})
	}
}

func TestMessage(t *testing.T) {
	status := apierrors.NewConflict(deployments, "web", errors.New("changed"))
	if got, want := explain.Message(fmt.Errorf("patch: %w", status)), status.Error(); got != want {
		t.Errorf("Message() = %q, want the status's own %q", got, want)
	}
	empty := &apierrors.StatusError{ErrStatus: metav1.Status{Reason: metav1.StatusReasonForbidden}}
	wrapped := fmt.Errorf("wrapped: %w", empty)
	if got := explain.Message(wrapped); got != wrapped.Error() {
		t.Errorf("Message() of a status without a message = %q, want the error's %q", got, wrapped.Error())
	}
}
