//go:build tools

// Package tools pins golangci-lint, which `make lint` builds into a cache
// outside the repository (hack/lint.sh), so the plugin's own go.mod never
// carries the linters' dependencies.
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
)
