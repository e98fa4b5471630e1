// Command rawwatch is the floor of the latency benchmark: the least a
// client-go program can do to print Deployment changes. It opens one plain
// watch on a namespace's Deployments and prints one JSON line per event,
// with no informer, no cache and no formatting.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	ns := flag.String("n", "default", "namespace")
	flag.Parse()
	// run returns only when the watch fails or ends.
	fmt.Fprintln(os.Stderr, "rawwatch:", run(*kubeconfig, *ns))
	os.Exit(1)
}

func run(kubeconfig, ns string) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	w, err := cs.AppsV1().Deployments(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout) // os.Stdout is unbuffered: one write per line
	for ev := range w.ResultChan() {
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok {
			continue
		}
		if err := enc.Encode(map[string]string{"type": string(ev.Type), "name": d.Name, "resourceVersion": d.ResourceVersion}); err != nil {
			return err
		}
	}
	return fmt.Errorf("the watch ended")
}
