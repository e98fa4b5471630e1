// Command demo runs `make demo` and `make demo-down`: a local cluster from
// the test bed (package testbed: a real API server, etcd, controller-manager
// and scheduler, kwok as the kubelet) that keeps running after make has
// ended, with a namespace "demo" holding the situations deploywatch is
// made for (situations.go), and its removal.
//
//	demo up   [-dir DIR]   start the cluster, or reuse the running one; make namespace demo afresh
//	demo down [-dir DIR]   stop the cluster and remove DIR
//
// DIR holds the cluster's files and kubeconfig; it is
// ${XDG_CACHE_HOME:-~/.cache}/kubectl-deploywatch/demo unless given. It is
// run from the module's root, where it finds the test bed's build script.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

const (
	namespace   = "demo"
	clusterName = "deploywatch-demo"
	// showTimeout bounds the wait for every situation to show.
	showTimeout = 2 * time.Minute
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demo: error: "+err.Error())
		os.Exit(1)
	}
}

func run(args []string, out, log io.Writer) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return errors.New("say what to do: demo up [-dir DIR] or demo down [-dir DIR]")
	}
	flags := flag.NewFlagSet("demo "+args[0], flag.ContinueOnError)
	flags.SetOutput(log)
	dir := flags.String("dir", "", "the demo's directory (default ${XDG_CACHE_HOME:-~/.cache}/kubectl-deploywatch/demo)")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; demo %s takes only -dir", flags.Args(), args[0])
	}
	if *dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("no cache directory to keep the demo in (%w): give one with -dir", err)
		}
		*dir = filepath.Join(cache, "kubectl-deploywatch", "demo")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	unlock, err := lock(abs)
	if err != nil {
		return err
	}
	defer unlock()

	if args[0] == "down" {
		return down(abs, log)
	}
	return up(abs, out, log)
}

// lock keeps two runs from working on one directory at once.
func lock(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another make demo or demo-down is working on %s: wait for it to end", dir)
	}
	return func() { f.Close() }, nil
}

func down(dir string, log io.Writer) error {
	removed, err := testbed.DeleteDetached(dir)
	if err != nil {
		return fmt.Errorf("remove the demo cluster in %s: %w", dir, err)
	}
	if !removed {
		fmt.Fprintf(log, "demo: no demo cluster in %s: nothing to remove\n", dir)
		return nil
	}
	fmt.Fprintf(log, "demo: stopped the demo cluster and removed %s\n", dir)
	return nil
}

func up(dir string, out, log io.Writer) error {
	start := time.Now()
	// Ctrl-C while the cluster starts ends the program at once; the next
	// make demo or make demo-down finds what it left.
	c, err := cluster(dir, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := situate(ctx, c, log); err != nil {
		return fmt.Errorf("%w (the cluster keeps running: make demo makes namespace %s again, make demo-down removes it)", err, namespace)
	}
	fmt.Fprintf(log, "demo: ready in %s\n", time.Since(start).Round(100*time.Millisecond))
	printTry(out, c.Kubeconfig())
	return nil
}

// situate makes namespace demo afresh in the cluster, with every situation,
// and waits until the cluster shows them.
func situate(ctx context.Context, c *testbed.Cluster, log io.Writer) error {
	if err := setNamespace(c.Kubeconfig()); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	if err := freshNamespace(ctx, cs); err != nil {
		return fmt.Errorf("namespace %s: %w", namespace, err)
	}
	if err := makeSituations(ctx, cs); err != nil {
		return err
	}
	fmt.Fprintf(log, "demo: waiting until the cluster shows every situation\n")
	return waitShown(ctx, cs)
}

// cluster starts the demo cluster, or returns the one running in dir.
func cluster(dir string, log io.Writer) (*testbed.Cluster, error) {
	c, err := testbed.OpenDetached(dir)
	switch {
	case err == nil:
		fmt.Fprintf(log, "demo: the demo cluster in %s is running: reusing it, with namespace %s made afresh\n", dir, namespace)
		return c, nil
	case errors.Is(err, testbed.ErrNotRunning):
		fmt.Fprintf(log, "demo: the demo cluster in %s is %v; removing it and starting a new one\n", dir, err)
		if _, err := testbed.DeleteDetached(dir); err != nil {
			return nil, fmt.Errorf("remove the old demo cluster: %w", err)
		}
	case errors.Is(err, fs.ErrNotExist):
		if _, statErr := os.Stat(dir); statErr == nil {
			// Left by a start that was interrupted early.
			if _, err := testbed.DeleteDetached(dir); err != nil {
				return nil, err
			}
		}
	default:
		return nil, err
	}
	fmt.Fprintf(log, "demo: starting a local cluster in %s: kube-apiserver, etcd, kube-controller-manager and kube-scheduler, with kwok as the kubelet of 2 nodes\n", dir)
	c, err = testbed.StartDetached(dir, clusterName)
	if err != nil {
		return nil, fmt.Errorf("start the demo cluster: %w", err)
	}
	return c, nil
}

// setNamespace makes demo the kubeconfig's namespace, so that plain
// kubectl commands look at it too.
func setNamespace(path string) error {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return err
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return fmt.Errorf("%s has no current context", path)
	}
	ctx.Namespace = namespace
	return clientcmd.WriteToFile(*cfg, path)
}

// freshNamespace deletes the namespace if it is there, and makes it anew.
func freshNamespace(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	namespaces := cs.CoreV1().Namespaces()
	err := namespaces.Delete(ctx, namespace, metav1.DeleteOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	default:
		if err := poll(ctx, "the old namespace to be deleted", func() (bool, error) {
			_, err := namespaces.Get(ctx, namespace, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		}); err != nil {
			return err
		}
	}
	if _, err := namespaces.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// Pods are refused until the namespace has its service account.
	return poll(ctx, "the namespace's default service account", func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}

func makeSituations(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	deployments := cs.AppsV1().Deployments(namespace)
	for _, s := range situations {
		for _, obj := range s.before {
			if err := create(ctx, cs, obj); err != nil {
				return err
			}
		}
		if _, err := deployments.Create(ctx, s.deployment, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create deployment %s: %w", s.deployment.Name, err)
		}
	}
	for _, s := range situations {
		if s.rollout == nil {
			continue
		}
		name := s.deployment.Name
		if err := poll(ctx, "deployment "+name+" to roll out", func() (bool, error) {
			v, err := look(ctx, cs)
			return err == nil && rolledOut(v, name), err
		}); err != nil {
			return err
		}
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := deployments.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			s.rollout(d)
			_, err = deployments.Update(ctx, d, metav1.UpdateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("roll out deployment %s: %w", name, err)
		}
	}
	return nil
}

// create makes one of a situation's other objects.
func create(ctx context.Context, cs kubernetes.Interface, obj runtime.Object) error {
	switch o := obj.(type) {
	case *corev1.ResourceQuota:
		if _, err := cs.CoreV1().ResourceQuotas(namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create resourcequota %s: %w", o.Name, err)
		}
		// Until the quota controller has counted what is used, the API
		// server refuses pods for that ("status unknown for quota"), not
		// for the quota being full.
		return poll(ctx, "resourcequota "+o.Name+" to be counted", func() (bool, error) {
			q, err := cs.CoreV1().ResourceQuotas(namespace).Get(ctx, o.Name, metav1.GetOptions{})
			return err == nil && len(q.Status.Hard) > 0, err
		})
	case *corev1.Service:
		if _, err := cs.CoreV1().Services(namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create service %s: %w", o.Name, err)
		}
		return nil
	}
	return fmt.Errorf("the demo cannot make a %T yet: add it to create in test/testbed/cmd/demo", obj)
}

// waitShown waits until every situation shows, saying which do not when
// the time is up.
func waitShown(ctx context.Context, cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, showTimeout)
	defer cancel()
	var missing []string
	err := poll(ctx, "every situation to show", func() (bool, error) {
		v, err := look(ctx, cs)
		if err != nil {
			return false, err
		}
		missing = missing[:0]
		for _, s := range situations {
			if !s.shows(v, s.deployment.Name) {
				missing = append(missing, s.deployment.Name)
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil && len(missing) > 0 {
		return fmt.Errorf("%w; not showing yet: %s (kubectl get pods -n %s tells more)", err, strings.Join(missing, ", "), namespace)
	}
	return err
}

// look lists the namespace's Deployments, ReplicaSets and Pods.
func look(ctx context.Context, cs kubernetes.Interface) (*view, error) {
	ds, err := cs.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	rss, err := cs.AppsV1().ReplicaSets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return &view{deployments: ds.Items, replicaSets: rss.Items, pods: pods.Items}, nil
}

// poll checks cond every 200 ms until it holds, fails, or ctx ends.
func poll(ctx context.Context, what string, cond func() (bool, error)) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// printTry prints what the namespace holds and what to try.
func printTry(out io.Writer, kubeconfig string) {
	fmt.Fprintf(out, "\nThe demo cluster runs, and its namespace %s has:\n\n", namespace)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, s := range situations {
		fmt.Fprintf(tw, "  %s\t%s\n", s.deployment.Name, s.what)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nTry:\n\n  export KUBECONFIG=%s\n", kubeconfig)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  kubectl deploywatch %s\t# live, with each rollout's cause; Ctrl-C quits\n", namespace)
	fmt.Fprintf(tw, "  kubectl deploywatch serve\t# the same as a web page: open the address it prints\n")
	fmt.Fprintf(tw, "  kubectl deploywatch undo cart -n %s --wait\t# roll cart back to the image that works\n", namespace)
	tw.Flush()
	fmt.Fprintf(out, "\nIt keeps running until: make demo-down\n")
	if _, err := exec.LookPath("kubectl-deploywatch"); err != nil {
		fmt.Fprintf(out, "\nkubectl-deploywatch is not on PATH yet: make install puts it in Go's bin directory (go env GOPATH, then bin), which must be on PATH.\n")
	}
}
