#!/usr/bin/env bash
# Builds the end-to-end test bed (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd, etcdctl, kwok, kwokctl) from the Go module proxy into
# a cache outside the repository, keyed by version, and prints the directory.
# A second run finds the binaries and returns at once.
#
# Several test processes may run this at the same time (go test runs packages
# in parallel), so builds are serialized with a lock and each binary appears
# in the cache only once complete.
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.7.0

here=$(cd "$(dirname "$0")" && pwd)
cache=${DEPLOYWATCH_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-deploywatch/testbed}
bin="$cache/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
mkdir -p "$bin"

locked=false told=false n=0
all=7 # the build lines below
build() { # module-dir output-name package [ldflags]
  local dir=$1 out=$2 pkg=$3 ldflags=${4:-}
  n=$((n + 1))
  if [[ -x "$bin/$out" ]]; then return 0; fi
  if [[ $told == false ]]; then
    # Said before waiting for another build.sh, which may be at the start
    # of the same minutes.
    echo "testbed: building the test bed (Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION) from the Go module proxy:" \
      "about 9 minutes the first time on 2 cores (here: $(nproc 2>/dev/null || echo "?")), cached after in $bin" >&2
    told=true
  fi
  if [[ $locked == false ]] && command -v flock >/dev/null; then
    # Wait for any other build.sh, then look again: it may have built this.
    exec 9>"$bin/.lock"
    if ! flock -n 9; then
      echo "testbed: another build of the test bed is running; waiting for it" >&2
      flock 9
    fi
    locked=true
    if [[ -x "$bin/$out" ]]; then return 0; fi
  fi
  echo "testbed: building $out ($n of $all, $pkg)" >&2
  (cd "$here/tools/$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$bin/$out.tmp.$$" "$pkg")
  mv "$bin/$out.tmp.$$" "$bin/$out"
}

k8sldflags="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z"
build kubernetes kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8sldflags"
build kubernetes kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$k8sldflags"
build kubernetes kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$k8sldflags"
build etcd etcd go.etcd.io/etcd/server/v3
build etcd etcdctl go.etcd.io/etcd/etcdctl/v3
kwokldflags="-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok "$kwokldflags"
build kwok kwokctl sigs.k8s.io/kwok/cmd/kwokctl "$kwokldflags"
echo "$bin"
