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
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$launcher_pid" ] && kill -0 "$launcher_pid" 2>/dev/null; then
    kill -TERM "$launcher_pid" 2>/dev/null || true
    wait "$launcher_pid" 2>/dev/null || true
  fi
  yy_stop_started
}
trap cleanup EXIT
trap 'exit 130' INT TERM

yy_ensure_postgres "$DATABASE_URL"
yy_ensure_redis "$REDIS_URL"
if [ "${STORAGE_BACKEND:-fs}" = s3 ] && [ -z "${S3_ENDPOINTS:-}" ]; then yy_ensure_local_s3; fi

node packages/catalog/dist/migrate.cli.js
node services/launcher/dist/seed.cli.js

yy_log "starting Yunying (ROLE=$ROLE); Ctrl-C stops it and whatever this script started"
# The launcher's output goes through a small filter that prints the URLs nicely; the filter runs on its
# own file descriptor so that $! below is the launcher's pid, which cleanup stops.
exec 3> >(while IFS= read -r line; do
  if [[ $line == YUNYING_READY* ]]; then
    node -e '
      const started = JSON.parse(process.argv[1].slice("YUNYING_READY ".length));
      const lines = started.map((s) => `  ${s.role.padEnd(10)} ${s.url}   (health: ${s.url}/readyz)` + (s.extra ? "  " + Object.entries(s.extra).map(([k, v]) => `${k}: ${v}`).join("  ") : ""));
      console.log("\nYunying is up:\n" + lines.join("\n") + "\n");' "$line"
  else
    printf '%s\n' "$line"
  fi
done)
node services/launcher/dist/main.js >&3 2>&1 &
launcher_pid=$!
wait "$launcher_pid"
