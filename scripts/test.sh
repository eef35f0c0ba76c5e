#!/usr/bin/env bash
# README command 2: checks formatting and lints, then runs every test (unit,
# end-to-end, fault, bad-input), starting PostgreSQL and RabbitMQ first when they
# are down.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/services.sh
./models/fetch.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# Code checks: formatting, and no lint warning anywhere (tests and benches included).
cargo fmt --all --check
cargo clippy -q --workspace --all-targets -- -D warnings
# The OpenTelemetry feature (off by default): lints, and its export test against a local OTLP/HTTP receiver.
cargo clippy -q -p drawpipe-core -p drawpipe-workers -p drawpipe-dispatcher --all-targets --features drawpipe-core/otel,drawpipe-workers/otel,drawpipe-dispatcher/otel -- -D warnings
cargo test -q -p drawpipe-core --features otel --lib logging
cargo build -q --workspace --bins
cargo test -q --workspace -- --test-threads "${DRAWPIPE_TEST_THREADS:-2}" --skip faults:: --skip rabbitmq_stop_and_start "$@"
# The fault tests, with their counts printed (submitted / completed / duplicated / lost).
cargo test -q -p drawpipe-tests --test tests faults:: -- --nocapture --test-threads "${DRAWPIPE_TEST_THREADS:-2}" "$@"
cargo test -q -p drawpipe-tests --test broker_restart -- --nocapture "$@"
# The synthetic drawing generator's own test (ground truth agrees with pixels).
./scripts/synth-venv.sh
(cd models/training && ../../.venv-synth/bin/python -m unittest discover -s tests)
python3 -m unittest discover -s tools/tests
# The deploy files, offline: hadolint, kustomize build, the Kubernetes and CRD schemas (deploy/README.md).
./scripts/deploy-check.sh
# The parsers of untrusted bytes, fuzzed for 20 s per target (cargo-fuzz on nightly: fuzz/README.md).
./scripts/fuzz.sh "${DRAWPIPE_FUZZ_SECS:-20}"
