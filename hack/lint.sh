#!/usr/bin/env bash
# Runs golangci-lint (.golangci.yml) over the plugin's module. The linter is
# built from hack/tools/golangci-lint, pinned there, into a cache outside the
# repository keyed by its version: the first run builds it (about 3 minutes
# on 2 cores), later runs start at once.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(cd "$here/tools/golangci-lint" && go list -m -f '{{.Version}}' github.com/golangci/golangci-lint/v2)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-deploywatch/tools
bin="$cache/golangci-lint-$version"
if [[ ! -x $bin ]]; then
  echo "lint: building golangci-lint $version (once; cached in $cache)" >&2
  mkdir -p "$cache"
  (cd "$here/tools/golangci-lint" && go build -trimpath -o "$bin.tmp.$$" github.com/golangci/golangci-lint/v2/cmd/golangci-lint)
  mv "$bin.tmp.$$" "$bin"
fi
cd "$here/.."
exec "$bin" run ./...
