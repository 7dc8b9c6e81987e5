#!/usr/bin/env bash
# Builds the binaries the tests, the demo and the benchmark need from Go modules
# (the only source this project downloads from), pinned to versions and cached
# outside the checkout so that later runs reuse them.
#
#   hack/tools.sh path TOOL      print the cached binary's path, building it first if needed
#   hack/tools.sh envtest        print a KUBEBUILDER_ASSETS directory (kube-apiserver + etcd)
#
# TOOL is one of: kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok prometheus controller-gen
set -euo pipefail

KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.37.1}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v0.307.3}
CONTROLLER_TOOLS_VERSION=${CONTROLLER_TOOLS_VERSION:-v0.23.0}

CACHE=${KONSUMERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/konsumerator}
mkdir -p "$CACHE"

log() { echo "tools: $*" >&2; }

# staging_module_of VERSION: k8s.io/kubernetes@VERSION's own go.mod replaces its
# staging modules with ./staging paths; a module outside that tree must point each
# of them at the published v0.x.y tag instead.
kubernetes_module() {
  local dir=$1 staging
  staging="v0.${KUBERNETES_VERSION#v1.}"
  mkdir -p "$dir"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module konsumerator.local/tools/kubernetes"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes ${KUBERNETES_VERSION}"
    echo
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<GO
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy >&2)
}

# tool_module DIR MODULE VERSION PACKAGE: a throwaway module in DIR that requires MODULE at VERSION and imports
# PACKAGE, tidied once (its go.sum pins everything for later runs).
tool_module() {
  local dir=$1 module=$2 version=$3 pkg=$4
  [ -f "$dir/go.sum" ] && return
  mkdir -p "$dir"
  printf 'module konsumerator.local/tools/%s\n\ngo 1.26\n\nrequire %s %s\n' "$(basename "$dir")" "$module" "$version" >"$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$dir/tools.go"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy >&2)
}

# build OUT MODULE_DIR PACKAGE
build() {
  local out=$1 dir=$2 pkg=$3
  log "building $pkg into $out (cached for later runs)"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
}

ensure() {
  local tool=$1 dir out
  case "$tool" in
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl)
      dir="$CACHE/src/kubernetes-${KUBERNETES_VERSION}"
      out="$CACHE/bin/kubernetes-${KUBERNETES_VERSION}/$tool"
      [ -x "$out" ] && { echo "$out"; return; }
      mkdir -p "$(dirname "$out")"
      [ -f "$dir/go.sum" ] || kubernetes_module "$dir"
      build "$out" "$dir" "k8s.io/kubernetes/cmd/$tool"
      ;;
    etcd)
      dir="$CACHE/src/etcd-${ETCD_VERSION}"
      out="$CACHE/bin/etcd-${ETCD_VERSION}/etcd"
      [ -x "$out" ] && { echo "$out"; return; }
      mkdir -p "$(dirname "$out")"
      tool_module "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
      build "$out" "$dir" go.etcd.io/etcd/server/v3
      ;;
    kwok)
      dir="$CACHE/src/kwok-${KWOK_VERSION}"
      out="$CACHE/bin/kwok-${KWOK_VERSION}/kwok"
      [ -x "$out" ] && { echo "$out"; return; }
      mkdir -p "$(dirname "$out")"
      tool_module "$dir" sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
      build "$out" "$dir" sigs.k8s.io/kwok/cmd/kwok
      # The stages kwok needs ship inside the module; keep them next to the binary.
      local src
      src=$(cd "$dir" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
      mkdir -p "$(dirname "$out")/stages"
      cat "$src"/kustomize/stage/node/fast/*.yaml "$src"/kustomize/stage/pod/fast/*.yaml \
        | awk 'BEGIN{first=1} /^---/{next} /^apiVersion:/{ if(!first) print "---"; first=0 } {print}' \
        >"$(dirname "$out")/stages/fast.yaml"
      ;;
    prometheus)
      dir="$CACHE/src/prometheus-${PROMETHEUS_VERSION}"
      out="$CACHE/bin/prometheus-${PROMETHEUS_VERSION}/prometheus"
      [ -x "$out" ] && { echo "$out"; return; }
      mkdir -p "$(dirname "$out")" "$dir"
      if [ ! -f "$dir/go.sum" ]; then
        # go mod tidy would pull test-only modules the proxy refuses; go get resolves just the build graph.
        printf 'module konsumerator.local/tools/prometheus\n\ngo 1.26\n' >"$dir/go.mod"
        (cd "$dir" && GOFLAGS=-mod=mod go get "github.com/prometheus/prometheus/cmd/prometheus@${PROMETHEUS_VERSION}" >&2)
      fi
      build "$out" "$dir" github.com/prometheus/prometheus/cmd/prometheus
      ;;
    controller-gen)
      out="$CACHE/bin/controller-gen-${CONTROLLER_TOOLS_VERSION}/controller-gen"
      [ -x "$out" ] && { echo "$out"; return; }
      log "installing controller-gen ${CONTROLLER_TOOLS_VERSION}"
      GOBIN="$(dirname "$out")" GOFLAGS= go install "sigs.k8s.io/controller-tools/cmd/controller-gen@${CONTROLLER_TOOLS_VERSION}"
      ;;
    *)
      echo "tools: unknown tool $tool" >&2
      exit 2
      ;;
  esac
  echo "$out"
}

# One build at a time per tool family: parallel make targets must not build the same binary twice, and the
# Kubernetes binaries share one module directory.
lock_name() {
  case "$1" in
    kube-*|kubectl) echo kubernetes ;;
    *) echo "$1" ;;
  esac
}
locked() {
  local tool=$1
  exec 9>"$CACHE/.lock-$(lock_name "$tool")"
  flock 9
  ensure "$tool"
  exec 9>&-
}

case "${1:-}" in
  path)
    shift
    locked "$1"
    ;;
  envtest)
    assets="$CACHE/envtest/kubernetes-${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}"
    mkdir -p "$assets"
    for t in kube-apiserver etcd; do
      bin=$(locked "$t")
      ln -sfn "$bin" "$assets/$t"
    done
    echo "$assets"
    ;;
  all)
    for t in etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kwok prometheus controller-gen; do locked "$t"; done
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
