#!/usr/bin/env bash
# `npm start`: the whole system on its embedded defaults, on this machine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$YY_ROOT"

yy_ensure_node_deps
yy_build

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/yunying}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export ROLE=${ROLE:-all}
yy_ensure_token_secret

launcher_pid=""
# Stops the launcher within its grace period, always: one SIGTERM (it drains and exits by itself within
# SHUTDOWN_GRACE_SECONDS + 5 s), SIGKILL from a watchdog after SHUTDOWN_GRACE_SECONDS + 10 s, and at once
# on a second Ctrl-C. `wait` returns early on a trapped signal, hence the loop.
stop_launcher() {
  [ -n "$launcher_pid" ] || return 0
  trap 'kill -KILL "$launcher_pid" 2>/dev/null || true' INT TERM
  kill -TERM "$launcher_pid" 2>/dev/null || true
  local pid=$launcher_pid grace=$(( ${SHUTDOWN_GRACE_SECONDS:-20} + 10 ))
  ( sleep "$grace" & s=$!; trap 'kill "$s" 2>/dev/null; exit 0' TERM; wait "$s"; kill -KILL "$pid" 2>/dev/null ) &
  local watchdog=$!
  while kill -0 "$launcher_pid" 2>/dev/null; do wait "$launcher_pid" 2>/dev/null || true; done
  kill -TERM "$watchdog" 2>/dev/null || true
  wait "$watchdog" 2>/dev/null || true
  launcher_pid=""
}
cleanup() {
  trap - EXIT
  # The terminal may be gone (npm exited on SIGTERM and the pseudo-terminal hung up): nothing here may
  # stop half-way on a failed write or a further hang-up.
  set +e
  trap '' HUP
  stop_launcher
  trap '' INT TERM
  yy_stop_started
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# npm exits on SIGTERM without waiting for this script; its terminal then hangs up (SIGHUP), which must
# stop the launcher like Ctrl-C does instead of killing this script and leaving the launcher running.
trap 'exit 129' HUP

yy_ensure_postgres "$DATABASE_URL"
yy_ensure_redis "$REDIS_URL"
if [ "${STORAGE_BACKEND:-fs}" = s3 ] && [ -z "${S3_ENDPOINTS:-}" ]; then yy_ensure_local_s3; fi

node packages/catalog/dist/migrate.cli.js
node services/launcher/dist/seed.cli.js
yy_use_service_role

yy_log "starting Yunying (ROLE=$ROLE); Ctrl-C stops it and whatever this script started"
# The C library's allocator settings for the launcher only (packages/config/src/allocator.ts says why; an
# operator's own GLIBC_TUNABLES wins), not for the PostgreSQL and Redis this script may have started.
glibc_tunables=${GLIBC_TUNABLES:-$(node -p "require('@yunying/config').RECOMMENDED_GLIBC_TUNABLES")}
# The launcher writes straight to the terminal (human-readable logs there, JSON when piped or with
# LOG_FORMAT=json): no filter process whose death could block it. It runs in its own session (setsid), so a
# Ctrl-C reaches it once, as the SIGTERM from stop_launcher, and not also as the terminal's SIGINT (which
# would count as a second signal and skip the drain). In a non-interactive shell a background job is not a
# process-group leader, so setsid does not fork and $! is the launcher's own pid.
if command -v setsid >/dev/null; then
  GLIBC_TUNABLES=$glibc_tunables setsid node services/launcher/dist/main.js &
else
  GLIBC_TUNABLES=$glibc_tunables node services/launcher/dist/main.js &
fi
launcher_pid=$!
status=0
wait "$launcher_pid" || status=$?
launcher_pid=""
exit "$status"
