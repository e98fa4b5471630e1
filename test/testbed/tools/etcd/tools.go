//go:build tools

// Package tools pins the etcd server the test bed builds, and etcdctl, which
// `kwokctl etcdctl` runs (kwokctl would otherwise download it).
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
