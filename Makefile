# konsumerator — build, generate, test.
#
# Tools are built from Go modules by hack/tools.sh and cached outside the checkout
# (${XDG_CACHE_HOME:-~/.cache}/konsumerator), so a second run reuses them.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMG ?= konsumerator:$(VERSION)
GO ?= go
TOOLS := hack/tools.sh
CONTROLLER_GEN = $(shell $(TOOLS) path controller-gen)
LDFLAGS := -s -w -X github.com/konsumerator/konsumerator/cmd/konsumerator/app.Version=$(VERSION)
CRD := config/crd/bases/konsumerator.lwolf.org_consumers.yaml
CHART := charts/konsumerator

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD and RBAC from the API types and markers; copy the CRD into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=konsumerator crd:generateEmbeddedObjectMeta=true,maxDescLen=400 \
		paths="./api/..." paths="./controller/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(GO) run ./hack/crdpostprocess -crd $(CRD) -from v1 -add v1alpha1
	cp $(CRD) $(CHART)/crds/

.PHONY: generate
generate: ## Generate deepcopy functions.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## gofmt the tree.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet:
	$(GO) vet ./...

.PHONY: lint
lint: vet ## vet, gofmt check and generated-files check.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@out=$$(git ls-files -z | xargs -0 stat -c '%s %n' 2>/dev/null | awk '$$1 > 1048576 {print $$2}'); \
		if [ -n "$$out" ]; then echo "files over 1 MiB are committed (a build output?):"; echo "$$out"; exit 1; fi
	@$(MAKE) --no-print-directory verify-generated

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files differ from what is committed.
	@if [ -n "$$(git status --porcelain -- config api $(CHART))" ]; then \
		echo "generated files are stale; run 'make manifests generate' and commit:"; \
		git status --porcelain -- config api $(CHART); git --no-pager diff --stat -- config api $(CHART); exit 1; fi

##@ Build

.PHONY: build
# The operator's build tags (-tags): why, in internal/gobuild; the demo and the bench build with the same.
build: ## Build bin/konsumerator (the operator, plan) and bin/konsumerator-simulate (which `konsumerator simulate` runs).
	CGO_ENABLED=0 $(GO) build -trimpath -tags grpcnotrace -ldflags '$(LDFLAGS)' -o bin/konsumerator ./cmd/konsumerator
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o bin/konsumerator-simulate ./cmd/konsumerator-simulate

.PHONY: run
run: manifests ## Run the operator against the cluster of the current kubeconfig.
	$(GO) run -tags grpcnotrace ./cmd/konsumerator run

.PHONY: docker-build
docker-build: ## Build the container image IMG (needs a Docker engine; the Dockerfile builds as `make build` does).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

##@ Test

.PHONY: test
test: lint test-go e2e ## Everything CI runs: checks, unit, golden, envtest, Prometheus and end-to-end tests.

.PHONY: envtest-assets
envtest-assets: ## Build (once) the kube-apiserver and etcd the tests run against.
	@$(TOOLS) envtest

.PHONY: test-go
test-go: ## Unit, golden, fuzz-seed and envtest tests with the race detector.
	KUBEBUILDER_ASSETS="$$($(TOOLS) envtest)" PROMETHEUS_BIN="$$($(TOOLS) path prometheus)" \
		$(GO) test -race -count=1 -timeout 25m ./...

.PHONY: test-manifests
test-manifests: ## Render config/ with kustomize and the Helm chart with the Helm SDK; check both against a real API server.
	KUBEBUILDER_ASSETS="$$($(TOOLS) envtest)" $(GO) test -count=1 ./internal/manifests/... ./internal/helmchart/...

.PHONY: demo
demo: ## Run the operator on a local cluster with a real Prometheus and synthetic lag, until Ctrl-C (docs/demo.md).
	$(GO) build -o bin/konsumerator-demo ./cmd/konsumerator-demo
	@# Run the binary itself rather than through go run, so that Ctrl-C reaches it directly and the exit status is its own.
	KUBEBUILDER_ASSETS="$$($(TOOLS) envtest)" bin/konsumerator-demo $(DEMO_FLAGS)

.PHONY: e2e
e2e: ## End-to-end test: the demo as a Go test, its page in headless chromium (a few minutes once the tools are cached).
	KUBEBUILDER_ASSETS="$$($(TOOLS) envtest)" CHROMIUM="$$($(TOOLS) path chromium)" KONSUMERATOR_E2E=1 $(GO) test -p 1 -count=1 -timeout 30m -v ./internal/cluster/... ./e2e/...

.PHONY: bench
bench: ## Measure converging, and resizing in place, 100 and 1,000 instances against envtest (minutes; BENCH_FLAGS=-quick for a short run).
	KUBEBUILDER_ASSETS="$$($(TOOLS) envtest)" $(GO) run ./hack/bench $(BENCH_FLAGS)

.PHONY: tools
tools: ## Build every cached tool (test binaries, demo cluster, Prometheus).
	$(TOOLS) all

.PHONY: help
help:
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
