#!/usr/bin/env bash
# Runs one benchmark (node bench/dist/cli.js <name> [options]) inside a private network namespace with
# only loopback up: Orthanc listens on every interface and runs without authentication here, so it must
# not be reachable from anywhere else; Yunying, its private PostgreSQL and Redis, Orthanc and the client
# all share this namespace, i.e. the same loopback. Needs root (unshare --net).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -f "$here/dist/cli.js" ]; then
  echo "bench is not compiled: npm run compile -w bench" >&2
  exit 2
fi
exec unshare --net -- bash -c 'ip link set lo up && exec node "$0" "$@"' "$here/dist/cli.js" "$@"
