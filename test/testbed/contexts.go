package testbed

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Contexts are clusters started together for one test, each its own
// control plane (its own ports and workdir, from the same binaries), and
// one kubeconfig with a context per cluster, named as the test asked.
type Contexts struct {
	// Clusters by context name.
	Clusters map[string]*Cluster
	// Names are the context names, in the order given.
	Names []string
	// Kubeconfig is the path of the kubeconfig holding every context; its
	// current context is the first name.
	Kubeconfig string
}

// StartContexts starts one cluster per name at once and deletes them when
// the test ends. Each name is a context (and its cluster and user) in the
// kubeconfig it writes.
func StartContexts(t testing.TB, names ...string) *Contexts {
	t.Helper()
	if len(names) == 0 {
		t.Fatal("testbed: StartContexts needs at least one name")
	}
	clusters := make([]*Cluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i := range names {
		wg.Go(func() { clusters[i], errs[i] = newCluster(Options{}) })
	}
	wg.Wait()
	cs := &Contexts{Clusters: map[string]*Cluster{}, Names: names}
	for i, c := range clusters {
		if c == nil {
			continue
		}
		t.Cleanup(func() {
			if err := c.Delete(); err != nil {
				t.Errorf("testbed: %v", err)
			}
		})
		cs.Clusters[names[i]] = c
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("testbed: context %s: %v", names[i], err)
		}
	}
	path, err := mergeKubeconfigs(t.TempDir(), names, clusters)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	cs.Kubeconfig = path
	return cs
}

// mergeKubeconfigs writes one kubeconfig with a context per cluster, its
// cluster and user named after it too.
func mergeKubeconfigs(dir string, names []string, clusters []*Cluster) (string, error) {
	merged := clientcmdapi.NewConfig()
	for i, c := range clusters {
		cfg, err := clientcmd.LoadFromFile(c.Kubeconfig())
		if err != nil {
			return "", fmt.Errorf("read the kubeconfig of %s: %w", c.Name(), err)
		}
		ctx, ok := cfg.Contexts[cfg.CurrentContext]
		if !ok {
			return "", fmt.Errorf("the kubeconfig of %s has no current context", c.Name())
		}
		name := names[i]
		merged.Clusters[name] = cfg.Clusters[ctx.Cluster]
		merged.AuthInfos[name] = cfg.AuthInfos[ctx.AuthInfo]
		merged.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: ctx.Namespace}
	}
	merged.CurrentContext = names[0]
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*merged, path); err != nil {
		return "", err
	}
	return path, nil
}

// Env is the environment for kubectl and the plugin with the merged
// kubeconfig (see Cluster.Env: the plugin is on PATH once BuildPlugin has
// run).
func (cs *Contexts) Env() []string {
	env := cs.Clusters[cs.Names[0]].Env()
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			out = append(out, kv)
		}
	}
	return append(out, "KUBECONFIG="+cs.Kubeconfig)
}
