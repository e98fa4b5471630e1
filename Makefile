# Build, lint and test kubectl-deploywatch. CI runs `make test` (see .ci/run).
#
# Tool versions are pinned where the tools are built: the test bed's
# Kubernetes, etcd and kwok in test/testbed/build.sh and its tools modules.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO ?= go
GOFMT ?= gofmt

VERSION_PKG := github.com/deploywatch/kubectl-deploywatch/pkg/version
# A release is built from its tag; anything else says it is a development build.
VERSION ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's date rather than the build's, so one commit always builds the same binary.
DATE ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) -X $(VERSION_PKG).Date=$(DATE)

.PHONY: all build install test lint test-unit test-release test-e2e testbed

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubectl-deploywatch ./cmd/kubectl-deploywatch

# From a clone: the plugin, version-stamped, and kubectl_complete-deploywatch,
# the script kubectl runs to complete its arguments, into BINDIR (Go's own bin
# directory unless given), which must be on PATH. Built as the release is
# (hack/dist): static, without cgo, -trimpath. With cgo, a dependency's import
# of Go's plugin package makes a dynamically linked binary that exports every
# symbol.
BINDIR ?= $(shell d=$$($(GO) env GOBIN); echo "$${d:-$$($(GO) env GOPATH)/bin}")
install:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)' -o bin/kubectl-deploywatch ./cmd/kubectl-deploywatch
	install -d '$(BINDIR)'
	install -m 0755 bin/kubectl-deploywatch kubectl_complete-deploywatch '$(BINDIR)/'

test: lint test-unit test-web test-release test-e2e

lint:
	$(GO) vet ./...
	@unformatted=$$($(GOFMT) -l .); \
	if [[ -n $$unformatted ]]; then echo "gofmt -l lists files that need gofmt -w:"; echo "$$unformatted"; exit 1; fi
	./hack/lint.sh

test-unit:
	$(GO) test -race ./pkg/... ./cmd/... ./internal/...

# The page's logic (pkg/webui/test: sorting, filter, backoff, formatting),
# with Node's built-in test runner (`node --test`: no npm, no build step).
NODE ?= node
.PHONY: test-web
test-web:
	$(NODE) --test pkg/webui/test/*.test.js

# The e2e tests start clusters from the test bed's binaries; building them
# first (about 9 minutes cold on 2 cores, instant once cached) keeps that time
# out of the tests' timeout.
test-e2e: testbed
	$(GO) test -race -count=1 -timeout 40m $(filter-out %/test/release,$(shell $(GO) list ./test/...))

# make dist from clean clones of HEAD, twice, checked against krew's rules.
# The first cross-compilation of six platforms takes minutes on 2 cores: run
# alone, it slows no e2e test's cluster. On a machine whose Go build cache is
# cold it took 27 minutes, and over 30 beside another build: hence 45.
test-release:
	$(GO) test -race -count=1 -timeout 45m ./test/release/

testbed:
	./test/testbed/build.sh

# Release archives, checksums.txt and the krew manifest, all in dist/ (see
# hack/dist); no tracked file changes. Reproducible: the binaries and every
# archive entry carry the commit's date, so two builds of one commit with one
# Go give the same bytes. krew wants a semver version with a leading v: the
# tag, or VERSION=vX.Y.Z, or v0.1.0 before the first tag.
DIST_DIR ?= dist
PLUGIN_MANIFEST ?= $(DIST_DIR)/deploywatch.yaml
ifneq ($(filter command line environment,$(origin VERSION)),)
DIST_VERSION := $(VERSION)
else
DIST_VERSION := $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo v0.1.0)
endif
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
DIST_LDFLAGS := -s -w -X $(VERSION_PKG).Version=$(DIST_VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) -X $(VERSION_PKG).Date=$(DATE)

.PHONY: dist release-manifest
dist:
	GO='$(GO)' $(GO) run ./hack/dist -version '$(DIST_VERSION)' -ldflags '$(DIST_LDFLAGS)' \
		-mtime '$(SOURCE_DATE_EPOCH)' -out '$(DIST_DIR)' -template krew-manifest.yaml -manifest '$(PLUGIN_MANIFEST)' \
		-completion kubectl_complete-deploywatch $(if $(RELEASE_RECORD),-record '$(RELEASE_RECORD)' -commit '$(COMMIT)')

# The release step, at the commit to be released as VERSION, with nothing
# uncommitted: make dist, then write its manifest to plugins/deploywatch.yaml
# headed by the commit and Go version that build those archives again, byte
# for byte (test/release does). Then commit plugins/, tag the commit it names
# VERSION and upload dist/'s files to that tag's GitHub release.
release-manifest:
	@if [[ "$(origin VERSION)" != "command line" ]]; then \
		echo "error: name the release: make release-manifest VERSION=vX.Y.Z" >&2; exit 1; fi
	@if [[ -n "$$(git status --porcelain)" ]]; then \
		echo "error: uncommitted changes (git status): a release is built from a commit; commit or stash them first" >&2; exit 1; fi
	$(MAKE) --no-print-directory dist RELEASE_RECORD=plugins/deploywatch.yaml

# A local cluster from the test bed that keeps running, with a namespace demo
# of the situations deploywatch is for (test/testbed/cmd/demo); it prints the
# KUBECONFIG to export and what to try. The first run builds the test bed
# (about 9 minutes on 2 cores); after that it takes seconds. Again, it reuses
# the running cluster and makes namespace demo afresh. make demo-down removes
# the cluster and DEMO_DIR, where its files and kubeconfig are.
DEMO_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kubectl-deploywatch/demo
.PHONY: demo demo-down
demo:
	@./test/testbed/build.sh >/dev/null
	@$(GO) build -o bin/demo ./test/testbed/cmd/demo
	@bin/demo up -dir '$(DEMO_DIR)'

demo-down:
	@$(GO) build -o bin/demo ./test/testbed/cmd/demo
	@bin/demo down -dir '$(DEMO_DIR)'

# The benchmark suite of issue 6 against the test bed (not part of make test):
# prints a side-by-side table and writes it to $(BENCH_REPORT). QUICK=1
# scales the biggest cases down for a development run. See BENCHMARKS.md.
BENCH_REPORT ?= bin/bench-report.md
.PHONY: bench
bench: testbed
	@mkdir -p $(dir $(BENCH_REPORT))
	DEPLOYWATCH_BENCH=1 $(GO) test -count=1 -timeout 90m -v -run '^TestBench$$' ./test/bench/ \
		-args -quick=$(if $(QUICK),true,false) -report $(abspath $(BENCH_REPORT))
