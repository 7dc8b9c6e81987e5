#!/usr/bin/env bash
# Builds the binaries the tests, the demo and the benchmark need from Go modules
# (the only source this project downloads from), pinned to versions and cached
# outside the checkout so that later runs reuse them.
#
#   hack/tools.sh path TOOL      print the cached binary's path, building it first if needed
#   hack/tools.sh envtest        print a KUBEBUILDER_ASSETS directory (kube-apiserver + etcd)
#   hack/tools.sh all            build every tool that is not cached yet
#
# What it builds, and roughly how long a first build takes on 2 cores (later runs take no time):
#   kube-apiserver                            ~7 min    (the tests' API server, with etcd)
#   kube-controller-manager, kube-scheduler   ~2.5 min  (together, after kube-apiserver; the demo cluster)
#   kubectl                                   ~1 min    (after kube-apiserver; what the docs run)
#   etcd                                      ~30 s
#   kwok                                      ~2 min    (the demo cluster's fake Nodes)
#   prometheus                                ~3 min    (Prometheus tests, the demo)
#   controller-gen                            ~1 min    (make manifests)
#   chromium                                  installed with apt-get, not built (~1 min; the demo page's browser test)
set -euo pipefail

KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.37.1}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
PROMETHEUS_VERSION=${PROMETHEUS_VERSION:-v0.307.3}
CONTROLLER_TOOLS_VERSION=${CONTROLLER_TOOLS_VERSION:-v0.23.0}

CACHE=${KONSUMERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/konsumerator}
mkdir -p "$CACHE"

log() { echo "tools: $*" >&2; }

# estimate TOOL: how long a first build of TOOL takes on 2 cores, for the progress lines.
estimate() {
  case "$1" in
    kube-apiserver) echo "about 7 min" ;;
    kube-controller-manager | kube-scheduler) echo "about 2.5 min for both" ;;
    kubectl | controller-gen) echo "about 1 min" ;;
    etcd) echo "about 30 s" ;;
    kwok) echo "about 2 min" ;;
    prometheus) echo "about 3 min" ;;
    chromium) echo "about 1 min" ;;
    *) echo "a while" ;;
  esac
}

# A long build prints nothing for minutes; one line every HEARTBEAT seconds shows it is alive.
HEARTBEAT=${KONSUMERATOR_TOOLS_HEARTBEAT:-30}

# with_heartbeat WHAT CMD...: runs CMD, telling stderr every HEARTBEAT seconds how long it has been running.
with_heartbeat() {
  local what=$1 start=$SECONDS pid rc=0
  shift
  "$@" &
  pid=$!
  # The sleep holds none of the script's output: a caller reading it to the end (hack/tools.sh path …) must not
  # wait for it. Killing the loop kills its sleep too (the trap), so that nothing outlives the script: a caller
  # that checks it leaves no process behind (the demo's test) would find the sleep.
  (
    nap=
    trap '[ -n "$nap" ] && kill "$nap" 2>/dev/null; wait 2>/dev/null; exit 0' TERM
    while :; do
      sleep "$HEARTBEAT" </dev/null >/dev/null 2>&1 &
      nap=$!
      wait "$nap" || exit 0
      kill -0 "$pid" 2>/dev/null || exit 0
      log "still $what: $(elapsed $((SECONDS - start))) so far"
    done
  ) >/dev/null &
  local beat=$!
  wait "$pid" || rc=$?
  kill "$beat" 2>/dev/null || true
  wait "$beat" 2>/dev/null || true
  log "done $what in $(elapsed $((SECONDS - start)))"
  return "$rc"
}

elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

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
  local out=$1 dir=$2 pkg=$3 tool
  tool=$(basename "$out")
  log "building $tool ($pkg; $(estimate "$tool") on 2 cores) into $out, cached for later runs"
  with_heartbeat "building $tool" \
    bash -c 'cd "$1" && CGO_ENABLED=0 GOFLAGS=-mod=mod exec go build -trimpath -ldflags="-s -w" -o "$2.tmp" "$3"' \
    build "$dir" "$out" "$pkg"
  mv "$out.tmp" "$out"
}

# Debian's chromium, for the demo page's browser test. The version is pinned by a glob (Debian's security
# archive keeps only the newest build of a major release); one already installed is used as it is.
CHROMIUM_VERSION=${CHROMIUM_VERSION:-156.*}

ensure_chromium() {
  local bin
  if bin=$(command -v chromium); then
    echo "$bin"
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "chromium is missing: install Debian's chromium package (apt-get install chromium) or put chromium on PATH"
    exit 1
  fi
  log "installing chromium=${CHROMIUM_VERSION} with apt-get ($(estimate chromium))"
  with_heartbeat "installing chromium" bash -c 'apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "chromium=$1" >&2' \
    install "$CHROMIUM_VERSION"
  command -v chromium
}

# cached_path TOOL: where TOOL's binary is cached (it may not be there yet).
cached_path() {
  case "$1" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) echo "$CACHE/bin/kubernetes-${KUBERNETES_VERSION}/$1" ;;
    etcd) echo "$CACHE/bin/etcd-${ETCD_VERSION}/etcd" ;;
    kwok) echo "$CACHE/bin/kwok-${KWOK_VERSION}/kwok" ;;
    prometheus) echo "$CACHE/bin/prometheus-${PROMETHEUS_VERSION}/prometheus" ;;
    controller-gen) echo "$CACHE/bin/controller-gen-${CONTROLLER_TOOLS_VERSION}/controller-gen" ;;
    *) echo "tools: unknown tool $1" >&2; exit 2 ;;
  esac
}

ensure() {
  local tool=$1 dir out
  if [ "$tool" = chromium ]; then
    ensure_chromium
    return
  fi
  out=$(cached_path "$tool")
  [ -x "$out" ] && { echo "$out"; return; }
  mkdir -p "$(dirname "$out")"
  case "$tool" in
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl)
      dir="$CACHE/src/kubernetes-${KUBERNETES_VERSION}"
      [ -f "$dir/go.sum" ] || kubernetes_module "$dir"
      build "$out" "$dir" "k8s.io/kubernetes/cmd/$tool"
      ;;
    etcd)
      dir="$CACHE/src/etcd-${ETCD_VERSION}"
      tool_module "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
      build "$out" "$dir" go.etcd.io/etcd/server/v3
      ;;
    kwok)
      dir="$CACHE/src/kwok-${KWOK_VERSION}"
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
      mkdir -p "$dir"
      if [ ! -f "$dir/go.sum" ]; then
        # go mod tidy would pull test-only modules the proxy refuses; go get resolves just the build graph.
        printf 'module konsumerator.local/tools/prometheus\n\ngo 1.26\n' >"$dir/go.mod"
        (cd "$dir" && GOFLAGS=-mod=mod go get "github.com/prometheus/prometheus/cmd/prometheus@${PROMETHEUS_VERSION}" >&2)
      fi
      build "$out" "$dir" github.com/prometheus/prometheus/cmd/prometheus
      ;;
    controller-gen)
      log "installing controller-gen ${CONTROLLER_TOOLS_VERSION} ($(estimate controller-gen) on 2 cores)"
      with_heartbeat "installing controller-gen" env GOBIN="$(dirname "$out")" GOFLAGS= \
        go install "sigs.k8s.io/controller-tools/cmd/controller-gen@${CONTROLLER_TOOLS_VERSION}"
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
    tools="etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kwok prometheus controller-gen"
    missing=$(for t in $tools; do [ -x "$(cached_path "$t")" ] || printf ' %s' "$t"; done)
    [ -z "$missing" ] || log "to build (cached afterwards):$missing; up to about 15 min on 2 cores"
    for t in $tools; do locked "$t"; done
    ;;
  *)
    # The comment block at the top is the usage.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
    ;;
esac
