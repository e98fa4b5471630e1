package leader

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
)

// maxConfigMapBytes is the API server's limit on a ConfigMap's data
// (k8s.io/kubernetes' validation: keys and values together, 1 MiB).
const maxConfigMapBytes = 1 << 20

func configMapBytes(cm *corev1.ConfigMap) int {
	n := 0
	for k, v := range cm.Data {
		n += len(k) + len(v)
	}
	for k, v := range cm.BinaryData {
		n += len(k) + len(v)
	}
	return n
}

// refuseLargeConfigMaps makes the fake refuse what the API server refuses:
// a ConfigMap over 1 MiB is Invalid.
func refuseLargeConfigMaps(cs *fake.Clientset) {
	refuse := func(a k8stesting.Action) (bool, runtime.Object, error) {
		cm := a.(k8stesting.CreateAction).GetObject().(*corev1.ConfigMap) // UpdateAction has the same method
		if size := configMapBytes(cm); size > maxConfigMapBytes {
			return true, nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("ConfigMap").GroupKind(), cm.Name,
				field.ErrorList{field.TooLong(field.NewPath("[]"), size, maxConfigMapBytes)})
		}
		return false, nil, nil
	}
	cs.PrependReactor("create", "configmaps", refuse)
	cs.PrependReactor("update", "configmaps", refuse)
}

// stateConfigMaps are the notifier's ConfigMaps in leaseNS.
func stateConfigMaps(t *testing.T, cs *fake.Clientset) []corev1.ConfigMap {
	t.Helper()
	l, err := cs.CoreV1().ConfigMaps(leaseNS).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=kubectl-deploywatch"})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// TestStateHoldsTenThousandDeployments: with 10,000 Deployments the state
// still fits the API server's limit, so notifications go out; one
// ConfigMap rewritten whole was refused (Invalid, too long) and retried
// forever, and nothing was ever sent.
func TestStateHoldsTenThousandDeployments(t *testing.T) {
	const count = 10000
	var objs []runtime.Object
	for i := range count {
		status := deployment.Running
		if i == 42 {
			status = deployment.Failed // notified at the first catch-up
		}
		d := deploymentIn("shop", fmt.Sprintf("payments-api-%05d", i), status)
		d.UID = types.UID(fmt.Sprintf("%08x-1e2d-4c3b-9a8f-%012x", i, i)) // as long as a real one
		d.ResourceVersion = fmt.Sprint(48_000_000 + i)                    // as a busy etcd's
		objs = append(objs, d)
	}
	cs := fake.NewClientset(objs...)
	refuseLargeConfigMaps(cs)
	r := newReceiver(t)
	n := newTestNotifier(t, cs, r.srv.URL)
	startNotifier(t, n)
	testutil.Eventually(t, 30*time.Second, "the failed message of payments-api-00042", func() bool { return len(r.messages()) >= 1 })
	if got := r.messages(); len(got) != 1 || got[0].Deployment != "payments-api-00042" || got[0].Kind != webhook.Failed {
		t.Fatalf("messages %v; want one failed of payments-api-00042", kinds(got))
	}
	testutil.Eventually(t, 30*time.Second, "every Deployment recorded", func() bool {
		recorded := 0
		for _, cm := range stateConfigMaps(t, cs) {
			recorded += len(cm.Data)
		}
		return recorded == count
	})
	total, largest := 0, 0
	cms := stateConfigMaps(t, cs)
	for _, cm := range cms {
		size := configMapBytes(&cm)
		total += size
		largest = max(largest, size)
	}
	t.Logf("state of %d Deployments: %d bytes in %d ConfigMaps, the largest %d bytes (limit %d)", count, total, len(cms), largest, maxConfigMapBytes)

	// And the next transition still goes out.
	d, err := cs.AppsV1().Deployments("shop").Get(context.Background(), "payments-api-09999", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	failed := deploymentIn("shop", d.Name, deployment.Failed)
	failed.UID = d.UID
	if _, err := cs.AppsV1().Deployments("shop").Update(context.Background(), failed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the failed message of payments-api-09999", func() bool { return len(r.messages()) >= 2 })
}
