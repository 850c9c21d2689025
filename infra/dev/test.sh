#!/usr/bin/env bash
# `npm test`: every test tier, with the real parts they need brought up the same way `npm start` does.
# Ends with a summary of what ran, what was skipped and why. Extra arguments go to jest
# (e.g. `npm test -- packages/dicom`).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$YY_ROOT"

started_ceph=0
cleanup() {
  trap - EXIT INT TERM
  if [ "$started_ceph" = 1 ]; then bash infra/ceph/down.sh >/dev/null 2>&1 || true; fi
  yy_stop_started
}
trap cleanup EXIT
trap 'exit 130' INT TERM

yy_ensure_node_deps
yy_build

results=()
status=0
run_tier() { # name command...
  local name=$1; shift
  yy_log "tier: $name"
  if "$@"; then results+=("  ok    $name"); else results+=("  FAIL  $name"); status=1; fi
}

run_tier "lint (eslint)" npx --no-install eslint --max-warnings=0 .
run_tier "typecheck (tsc, tests included)" npx --no-install turbo run typecheck --output-logs=errors-only

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
yy_ensure_postgres "$TEST_DATABASE_URL"
yy_ensure_redis "$TEST_REDIS_URL"
# The OHIF Viewer's built dist for test/e2e/ohif.e2e.test.ts (pinned, checksummed, kept under .data).
bash test/e2e/ohif/fetch-ohif.sh || yy_log "OHIF dist not fetched; test/e2e/ohif.e2e.test.ts will say so"

export YUNYING_SKIP_LOG="$YY_DATA/test-skips.jsonl"
export YUNYING_SUMMARY_FILE="$YY_DATA/test-summary.txt"
rm -f "$YUNYING_SKIP_LOG" "$YUNYING_SUMMARY_FILE"

# A real S3 with Object Lock (Ceph RGW) for the storage tests, when its packages are installed.
if [ -z "${S3_ENDPOINT:-}" ]; then
  if command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && [ -f infra/ceph/up.sh ]; then
    yy_log "starting Ceph RGW (S3 with Object Lock)"
    if bash infra/ceph/up.sh > "$YY_DATA/ceph-up.log" 2>&1; then
      started_ceph=1
      set -a; source "${CEPH_DATA:-$YY_DATA/ceph}/s3.env"; set +a
    else
      yy_log "Ceph did not start (see .data/ceph-up.log): S3 tests will be skipped"
      echo '{"what":"S3 (Ceph RGW) tests","why":"Ceph failed to start; see .data/ceph-up.log"}' >> "$YUNYING_SKIP_LOG"
    fi
  else
    echo '{"what":"S3 (Ceph RGW) tests","why":"Ceph packages not installed (apt-get install ceph-mon ceph-mgr ceph-osd radosgw ceph-common)"}' >> "$YUNYING_SKIP_LOG"
  fi
fi

# Two cores: two jest workers; integration tests isolate themselves by schema, queue prefix and bucket.
run_tier "jest: unit, integration, system" npx --no-install jest --ci --maxWorkers=2 "$@"

echo
echo "── npm test ──"
printf '%s\n' "${results[@]}"
if [ -f "$YUNYING_SUMMARY_FILE" ]; then cat "$YUNYING_SUMMARY_FILE"; else echo "Summary: 0 passed, 1 failed (jest did not report)"; status=1; fi
exit $status
