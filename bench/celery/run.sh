#!/usr/bin/env bash
# Celery baseline for drawpipe-bench: Celery (RabbitMQ broker, PostgreSQL result
# backend) running the same job, preprocess -> report, on the same 64x64 PNG.
#
# Usage: bench/celery/run.sh [--jobs N] [--concurrency C] [--with-drawpipe] [--rounds R]
#   N defaults to $JOBS or 2000; C (submitter threads) to 64.
#   --with-drawpipe (or WITH_DRAWPIPE=1) then runs target/release/drawpipe-bench --jobs N
#   and prints drawpipe/celery of jobs/s (only if that binary exists).
#   --rounds R (with --with-drawpipe) runs R interleaved rounds (celery, drawpipe,
#   celery, drawpipe, ...) and prints each side's median jobs/s and their ratio.
# Env: CELERY_CONFIRM_PUBLISH=0 turns publisher confirms off (default on);
#      PYTHON (default python3.11, else python3) builds the venv .venv-celery/ at the repo root.
# It makes its own vhost and database and removes them, and stops its worker, on exit.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1   # leave no __pycache__ in bench/celery

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
JOBS="${JOBS:-2000}"
CONC=64
WITH_DRAWPIPE="${WITH_DRAWPIPE:-0}"
ROUNDS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --concurrency) CONC="$2"; shift 2 ;;
    --with-drawpipe) WITH_DRAWPIPE=1; shift ;;
    [0-9]*) JOBS="$1"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

# Completed jobs per second from a bench's output (celery's submit.py or drawpipe-bench).
rate() { sed -n 's/^throughput ([^)]*): \([0-9.]*\) jobs\/s.*/\1/p' "$1"; }

# --- interleaved rounds: this script once per round, then the medians --------
if [ "$ROUNDS" -gt 1 ]; then
  [ "$WITH_DRAWPIPE" = 1 ] || { echo "--rounds needs --with-drawpipe" >&2; exit 2; }
  OUTS="$(mktemp -d)"
  trap 'rm -rf "$OUTS"' EXIT
  for r in $(seq 1 "$ROUNDS"); do
    echo "== round $r of $ROUNDS"
    "$0" --jobs "$JOBS" --concurrency "$CONC" --with-drawpipe | tee "$OUTS/round$r.out"
    # Each round's output holds celery's throughput line first, drawpipe's second.
    rate "$OUTS/round$r.out" | sed -n 1p >>"$OUTS/celery.rates"
    rate "$OUTS/round$r.out" | sed -n 2p >>"$OUTS/drawpipe.rates"
  done
  median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  c="$(median "$OUTS/celery.rates")" d="$(median "$OUTS/drawpipe.rates")"
  echo "celery jobs/s by round: $(paste -sd' ' "$OUTS/celery.rates"); median $c"
  echo "drawpipe jobs/s by round: $(paste -sd' ' "$OUTS/drawpipe.rates"); median $d"
  awk -v d="$d" -v c="$c" 'BEGIN { printf "ratio of medians drawpipe/celery: %.2f\n", d / c }'
  exit 0
fi

PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER=postgres
AMQP_BASE="amqp://guest:guest@127.0.0.1:5672"
psql_admin() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -v ON_ERROR_STOP=1 -qAt "$@"; }

# --- venv -------------------------------------------------------------------
VENV="$ROOT/.venv-celery"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements.installed" 2>/dev/null; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/.requirements.installed"
fi

# --- vhost + database -------------------------------------------------------
NAME="celerybench_$$_$(date +%s)"
WORKER_PID=""
LOGDIR="$(mktemp -d)"
cleanup() {
  set +e
  if [ -n "$WORKER_PID" ] && kill -0 "$WORKER_PID" 2>/dev/null; then
    kill -TERM "$WORKER_PID"                    # warm shutdown: children finish, then exit
    for _ in $(seq 1 100); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$WORKER_PID" 2>/dev/null && kill -KILL "$WORKER_PID"
    wait "$WORKER_PID" 2>/dev/null
  fi
  psql_admin -d postgres -c "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null
  rabbitmqctl -q delete_vhost "$NAME" >/dev/null 2>&1
  rm -rf "$LOGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rabbitmqctl -q add_vhost "$NAME" >/dev/null
rabbitmqctl -q set_permissions -p "$NAME" guest '.*' '.*' '.*' >/dev/null
psql_admin -d postgres -c "CREATE DATABASE $NAME"
psql_admin -d "$NAME" <<'SQL'
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    status       text NOT NULL,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz
);
CREATE TABLE pages (
    job_id       uuid NOT NULL,
    page_index   integer NOT NULL,
    width        integer NOT NULL,
    height       integer NOT NULL,
    raster_png   bytea NOT NULL,
    PRIMARY KEY (job_id, page_index)
);
SQL

export CELERY_BROKER_URL="$AMQP_BASE/$NAME"
export CELERY_RESULT_URL="db+postgresql://postgres:postgres@$PG_HOST:$PG_PORT/$NAME"
export CELERY_DB_DSN="host=$PG_HOST port=$PG_PORT user=postgres password=postgres dbname=$NAME"
export CELERY_CONFIRM_PUBLISH="${CELERY_CONFIRM_PUBLISH:-1}"

# --- worker -----------------------------------------------------------------
( cd "$HERE" && exec "$VENV/bin/celery" -A tasks worker --pool prefork --concurrency 2 -O fair \
    --loglevel WARNING -n "bench@%h" ) >"$LOGDIR/worker.log" 2>&1 &
WORKER_PID=$!

# --- submit and measure -----------------------------------------------------
echo "== celery $("$VENV/bin/python" -c 'import celery; print(celery.__version__)') (prefork 2, -O fair, acks_late, prefetch 1, confirm_publish=$CELERY_CONFIRM_PUBLISH); load: $(uptime | sed 's/.*load average/load average/')"
set +e
( cd "$HERE" && "$VENV/bin/python" submit.py --jobs "$JOBS" --concurrency "$CONC" \
    --worker-desc "celery prefork --concurrency 2 -O fair (acks_late, prefetch 1)" ) | tee "$LOGDIR/celery.out"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  echo "--- worker log ---" >&2; tail -50 "$LOGDIR/worker.log" >&2
  exit "$rc"
fi
echo "load after: $(uptime | sed 's/.*load average/load average/')"

# --- optional: drawpipe-bench right after -------------------------------------
if [ "$WITH_DRAWPIPE" = 1 ]; then
  BIN="$ROOT/target/release/drawpipe-bench"
  if [ -x "$BIN" ]; then
    echo "== drawpipe-bench --jobs $JOBS; load: $(uptime | sed 's/.*load average/load average/')"
    ( cd "$ROOT" && "$BIN" --jobs "$JOBS" --concurrency "$CONC" ) | tee "$LOGDIR/drawpipe.out"
    echo "load after: $(uptime | sed 's/.*load average/load average/')"
    c="$(rate "$LOGDIR/celery.out")" d="$(rate "$LOGDIR/drawpipe.out")"
    if [ -n "$c" ] && [ -n "$d" ]; then
      awk -v d="$d" -v c="$c" 'BEGIN { printf "ratio drawpipe/celery (jobs/s): %.2f (%s / %s)\n", d / c, d, c }'
    fi
  else
    echo "(--with-drawpipe: $BIN not found; build it with cargo build --release -p drawpipe-tests --bin drawpipe-bench)"
  fi
fi
