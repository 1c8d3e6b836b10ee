#!/usr/bin/env bash
# Make a local Redis available for the real-scheduler tests (the Celery broker) and print its URL on stdout.
# Installs Debian's redis-server when missing (root only), starts one on a free 127.0.0.1 port with its own
# throwaway folder (no persistence, daemonized; its pid file and log are in that folder), and reuses it on the
# next call while it answers. Prints nothing (and exits 0) when that is impossible here, so the Celery tests
# are reported as skipped with the reason.
set -euo pipefail
STATE="${LIANBAN_REDIS_DIR:-${TMPDIR:-/tmp}/lianban-redis-$(id -u)}"
log() { echo "ensure-redis: $*" >&2; }

if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing redis-server (apt-get)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) >&2 \
      || { log "apt-get install redis-server failed"; exit 0; }
  else
    log "redis-server not installed and cannot install it here"; exit 0
  fi
fi
mkdir -p "$STATE" && chmod 700 "$STATE"
if [ -f "$STATE/port" ] && redis-cli -p "$(cat "$STATE/port")" ping 2>/dev/null | grep -q PONG; then
  echo "redis://127.0.0.1:$(cat "$STATE/port")/0"; exit 0
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --dir "$STATE" --save "" --appendonly no --daemonize yes \
  --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" >&2 || { log "cannot start redis-server"; exit 0; }
for _ in $(seq 50); do
  if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
    echo "$port" > "$STATE/port"; echo "redis://127.0.0.1:$port/0"; exit 0
  fi
  sleep 0.1
done
log "redis-server did not answer on port $port (see $STATE/redis.log)"
