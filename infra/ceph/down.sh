#!/usr/bin/env bash
# Stop ONLY the daemons started by up.sh (or restarted by a test), using the pid
# files in $CEPH_DATA/run. A pid is signalled only if /proc/<pid>/exe is a ceph
# daemon binary AND its environment has CEPH_CONF=$CEPH_DATA/ceph.conf (guards
# against pid reuse). Never kills by process name.
#   CEPH_DATA         data dir (default <repo>/.data/ceph)
#   CEPH_KEEP_DATA=1  keep the data dir (default: delete it)
#   CEPH_DOWN_FAST=1  SIGKILL at once; the default when the data dir is deleted
#                     (radosgw alone needs 5-10 s to exit on SIGTERM)
#   CEPH_DOWN_GRACE   seconds to wait after SIGTERM before SIGKILL (default 8)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${CEPH_DATA:-$(cd "$HERE/../.." && pwd)/.data/ceph}
GRACE=${CEPH_DOWN_GRACE:-8}
if [ "${CEPH_KEEP_DATA:-0}" != 1 ]; then CEPH_DOWN_FAST=${CEPH_DOWN_FAST:-1}; fi
[ -d "$DATA/run" ] || { echo "[down] nothing to do ($DATA/run missing)"; exit 0; }
DATA=$(cd "$DATA" && pwd)

ours() { # pid -> 0 if it is a live ceph daemon started with our ceph.conf
  local pid=$1 exe
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  case "$exe" in */ceph-mon|*/ceph-mgr|*/ceph-osd|*/radosgw) ;; *) return 1 ;; esac
  # started with CEPH_CONF=$DATA/ceph.conf in the environment, or -c $DATA/ceph.conf
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "CEPH_CONF=$DATA/ceph.conf" && return 0
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qx "$DATA/ceph.conf"
}
alive() { # pid starttime -> 0 while the same process exists and is not a zombie
  local st
  st=$(cut -d' ' -f3,22 "/proc/$1/stat" 2>/dev/null) || return 1
  [ "${st%% *}" != Z ] && [ "${st#* }" = "$2" ]
}

stop_group() { # pidfile...
  local f pid sig=TERM; local -a pids=() starts=()
  [ "${CEPH_DOWN_FAST:-0}" = 1 ] && sig=KILL
  for f in "$@"; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && ours "$pid"; then
      starts+=("$(cut -d' ' -f22 "/proc/$pid/stat")")
      kill -"$sig" "$pid" 2>/dev/null && pids+=("$pid") && echo "[down] $sig $(basename "$f" .pid) pid $pid"
    fi
    rm -f "$f"
  done
  local i k any
  for i in $(seq 1 $((GRACE * 10))); do
    any=0
    for k in "${!pids[@]}"; do alive "${pids[$k]}" "${starts[$k]}" && any=1; done
    [ $any = 0 ] && return 0
    sleep 0.1
  done
  for k in "${!pids[@]}"; do
    if alive "${pids[$k]}" "${starts[$k]}"; then
      echo "[down] KILL pid ${pids[$k]} (no exit ${GRACE}s after TERM)"
      kill -KILL "${pids[$k]}" 2>/dev/null
    fi
  done
  for i in $(seq 1 50); do
    any=0
    for k in "${!pids[@]}"; do alive "${pids[$k]}" "${starts[$k]}" && any=1; done
    [ $any = 0 ] && return 0
    sleep 0.1
  done
}

shopt -s nullglob
# rgw, osds and mgr first (while the mon is still there to take their
# "going down" messages), the mon last.
stop_group "$DATA"/run/client.rgw.*.pid "$DATA"/run/osd.*.pid "$DATA"/run/mgr.*.pid
stop_group "$DATA"/run/mon.*.pid

if [ "${CEPH_KEEP_DATA:-0}" != 1 ]; then
  # only a dir that up.sh made (it has ceph.conf); never anything else
  [ -f "$DATA/ceph.conf" ] || { echo "[down] $DATA has no ceph.conf; not removing it"; exit 0; }
  rm -rf "$DATA"
  echo "[down] removed $DATA"
fi
echo "[down] done"
