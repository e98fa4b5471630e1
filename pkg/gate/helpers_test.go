package gate

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

var deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// newWaiter is the gate of a Wait for req, its first list in.
func newWaiter(req Request, stop func()) *gate {
	g := newGate(nil, stop, req.FailingGrace, &rollout{req: req})
	g.synced = true
	return g
}

// newDeployment is a Running Deployment "web" in namespace "shop", at
// generation 4.
func newDeployment(replicas int32) *appsv1.Deployment {
	return testutil.Deployment("web", testutil.Namespace("shop"), testutil.Replicas(replicas),
		testutil.Containers(corev1.Container{Name: "web", Image: "nginx:1.27"}), testutil.Observed(4))
}

// newClient is a fake clientset holding objs.
func newClient(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	return fake.NewClientset(objs...)
}

func int32p(n int32) *int32 { return &n }

// nopSink is the end of a chain of sinks: it drops everything.
type nopSink struct{}

func (nopSink) OnEvent(deployment.Event)      {}
func (nopSink) OnSynced([]deployment.Summary) {}

// summary is Deployment name in namespace "shop".
func summary(name string, status deployment.Status, msg string) deployment.Summary {
	return deployment.Summary{Namespace: "shop", Name: name, Status: status, Message: msg}
}
