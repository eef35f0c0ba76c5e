#!/usr/bin/env bash
# Makes sure PostgreSQL and RabbitMQ are installed, running, and reachable the way
# the tests connect (postgres:postgres@127.0.0.1:5432, guest:guest@127.0.0.1:5672).
# Installs them with apt-get (as root) where missing.
set -euo pipefail

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "services: $* missing; run as root: apt-get install -y $*" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 120); do port_open "$1" && return 0; sleep 1; done
  echo "services: nothing listens on 127.0.0.1:$1 after 120 s ($2)" >&2
  exit 1
}

# PostgreSQL
if ! port_open 5432; then
  if [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt_install postgresql postgresql-client
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  wait_port 5432 PostgreSQL
fi
command -v psql >/dev/null || apt_install postgresql-client
if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  # A fresh cluster allows only peer login: give the postgres role the password the tests use.
  echo "services: setting a password for the postgres role (fresh cluster)" >&2
  su postgres -c "psql -qc \"ALTER ROLE postgres PASSWORD 'postgres'\"" >/dev/null
  PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null
fi

# RabbitMQ
if ! command -v rabbitmq-server >/dev/null; then
  apt_install rabbitmq-server
fi
if ! port_open 5672; then
  rabbitmq-server -detached || true
  wait_port 5672 RabbitMQ
fi
for _ in $(seq 1 60); do rabbitmqctl -q status >/dev/null 2>&1 && break; sleep 1; done
echo "services: PostgreSQL and RabbitMQ are up" >&2
