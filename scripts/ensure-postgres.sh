#!/usr/bin/env bash
# Make a local PostgreSQL available for the ledger tests and print its SQLAlchemy URL on stdout.
# Installs Debian's postgresql when missing (root only), starts the cluster, creates role and database.
# Prints nothing (and exits 0) when that is impossible here, so the PostgreSQL tests are reported as skipped.
set -euo pipefail
DB=lianban_test
USER_NAME=lianban
PASS=lianban-test
log() { echo "ensure-postgres: $*" >&2; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing postgresql (apt-get)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2 \
      || { log "apt-get install postgresql failed"; exit 0; }
  else
    log "postgresql not installed and cannot install it here"; exit 0
  fi
fi
if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
  pg_lsclusters -h | grep -q "^$version main" || pg_createcluster "$version" main >&2
  pg_ctlcluster "$version" main start >&2 || { log "cannot start the cluster"; exit 0; }
fi
port=$(pg_lsclusters -h | awk '$4=="online"{print $3; exit}')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg psql -p "$port" -qtAc "SELECT 1 FROM pg_roles WHERE rolname='$USER_NAME'" | grep -q 1 \
  || as_pg psql -p "$port" -qc "CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASS' CREATEDB" >&2
as_pg psql -p "$port" -qtAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
  || as_pg createdb -p "$port" -O "$USER_NAME" "$DB" >&2
echo "postgresql+psycopg://$USER_NAME:$PASS@127.0.0.1:$port/$DB"
