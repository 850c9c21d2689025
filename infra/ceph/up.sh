#!/usr/bin/env bash
# Start a throw-away single-host Ceph cluster (1 mon, 1 mgr, 3 OSDs, 1 radosgw)
# from nothing, entirely inside $CEPH_DATA, listening on 127.0.0.1 only.
# No systemd, no cephadm, no containers: daemons are started directly and
# their pids are recorded in $CEPH_DATA/run/*.pid (used by down.sh).
# It gives the integration tests a real S3 endpoint with Object Lock (RGW).
#
# Requires (Debian 12): apt-get install -y ceph-mon ceph-mgr ceph-osd radosgw ceph-common
#
# Idempotent: when the cluster in $CEPH_DATA is already running and radosgw
# answers, it prints the env again and exits 0 without touching anything.
#
# Env knobs:
#   CEPH_DATA      data dir (default <repo>/.data/ceph); wiped on a fresh start,
#                  but only if it is empty or looks like ours (has ceph.conf)
#   CEPH_NUM_OSD   number of OSDs (default 3)
#   CEPH_POOL_SIZE replica count (default 3)
#   CEPH_OSD_STORE bluestore (default) | memstore
#   CEPH_MON_PORT  mon msgr2 port (default 3300); msgr1 port = CEPH_MON_PORT+1
#   RGW_PORT       S3 endpoint port on 127.0.0.1 (default 7480)
#   RGW_LC_DEBUG_INTERVAL  seconds per lifecycle "day" (default 10, for the tiering tests; 0 = real days)
#   CEPH_PORT_MIN  first port of the range OSDs/mgr bind to (default 6800, 200 ports)
#   S3_ACCESS_KEY / S3_SECRET_KEY  S3 credentials of the admin-like user `test` (default: generated per
#                  cluster; one credential per copy: infra/ceph/copy-credentials.sh)
#   CEPH_WITH_MGR  1 (default) | 0
#
# On success prints `export S3_ENDPOINT=...` lines on stdout (logs go to stderr)
# and writes the same lines to $CEPH_DATA/s3.env, so either works:
#   eval "$(bash infra/ceph/up.sh)"      or      bash infra/ceph/up.sh && . .data/ceph/s3.env
set -euo pipefail

T0=$(date +%s%N)
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DATA=${CEPH_DATA:-$REPO/.data/ceph}
NUM_OSD=${CEPH_NUM_OSD:-3}
POOL_SIZE=${CEPH_POOL_SIZE:-3}
OSD_STORE=${CEPH_OSD_STORE:-bluestore}
MON_PORT=${CEPH_MON_PORT:-3300}
MON_PORT1=$((MON_PORT + 1))
RGW_PORT=${RGW_PORT:-7480}
# rgw_lc_debug_interval: a lifecycle day lasts this many seconds (RGW_LC_DEBUG_INTERVAL=0: real days).
LC_DEBUG_INTERVAL=${RGW_LC_DEBUG_INTERVAL:-10}
[ "$LC_DEBUG_INTERVAL" = 0 ] && LC_DEBUG_INTERVAL=-1
# Generated per cluster unless given (#17: no fixed credentials). 20 and 40 characters, as RGW's own.
# A finite read of /dev/urandom first: `tr </dev/urandom | head` dies of SIGPIPE, which pipefail + set -e
# turn into a silent exit 141 of this script.
ACCESS_KEY=${S3_ACCESS_KEY:-$(head -c 600 /dev/urandom | LC_ALL=C tr -dc 'A-Z0-9' | cut -c1-20)}
SECRET_KEY=${S3_SECRET_KEY:-$(head -c 600 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9' | cut -c1-40)}
WITH_MGR=${CEPH_WITH_MGR:-1}
PORT_MIN=${CEPH_PORT_MIN:-6800}

log() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[up %3d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

http_code() { # GET http://127.0.0.1:$1/ -> status code (curl if present, else bash /dev/tcp)
  if command -v curl >/dev/null; then
    curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/" || true
  else
    ( exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 \
      && head -n1 <&3 | cut -d' ' -f2 ) 2>/dev/null || true
  fi
}

missing=()
for b in ceph-mon ceph-mgr ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
  command -v "$b" >/dev/null || missing+=("$b")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "ERROR: Ceph is not installed (missing: ${missing[*]}). Install it with:"
  log "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ceph-mon ceph-mgr ceph-osd radosgw ceph-common"
  exit 1
fi

# Already running (ours, from an earlier up.sh with the same CEPH_DATA)? Then
# reuse it when it answers; never restart or kill anything here.
alive_pids=()
if ls "$DATA"/run/*.pid >/dev/null 2>&1; then
  for f in "$DATA"/run/*.pid; do
    p=$(cat "$f" 2>/dev/null || true)
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then alive_pids+=("$p"); fi
  done
fi
if [ ${#alive_pids[@]} -gt 0 ]; then
  port_now=$(sed -n 's/^export S3_PORT=//p' "$DATA/s3.env" 2>/dev/null || true)
  if [ -n "$port_now" ] && [ "$(http_code "$port_now")" = 200 ]; then
    log "already running (pids ${alive_pids[*]}), radosgw answers on port $port_now; reusing it"
    cat "$DATA/s3.env"
    exit 0
  fi
  die "daemons from a previous run are alive (pids ${alive_pids[*]}) but S3 is not ready; run infra/ceph/down.sh first"
fi

# Someone else's server on our port: say so instead of failing obscurely later.
code=$(http_code "$RGW_PORT")
if [ -n "$code" ] && [ "$code" != 000 ]; then
  die "port $RGW_PORT already answers HTTP (not a cluster of $DATA); set RGW_PORT to a free port"
fi

# CEPH_PERSIST=1 (npm start's local S3): a cluster stopped with CEPH_KEEP_DATA=1 is started again from
# its data, never wiped — objects under retention must survive a restart of the dev system.
if [ "${CEPH_PERSIST:-0}" = 1 ] && [ -f "$DATA/ceph.conf" ] && [ -f "$DATA/s3.env" ]; then
  export CEPH_CONF=$DATA/ceph.conf
  rm -f "$DATA"/run/*.pid
  ceph-mon -i a
  for i in $(seq 1 60); do
    ceph --connect-timeout 5 mon stat >/dev/null 2>&1 && break
    sleep 0.5
    [ "$i" = 60 ] && die "mon did not come up; see $DATA/log/mon.a.log"
  done
  if [ "$WITH_MGR" = 1 ]; then ceph-mgr -i x; fi
  for d in "$DATA"/osd/*/; do ceph-osd -i "$(basename "$d")"; done
  radosgw -n client.rgw.a
  for i in $(seq 1 100); do [ -s "$DATA/run/client.rgw.a.pid" ] && break; sleep 0.1; done
  port_now=$(sed -n 's/^export S3_PORT=//p' "$DATA/s3.env")
  for i in $(seq 1 240); do
    [ "$(http_code "$port_now")" = 200 ] && break
    sleep 0.25
    [ "$i" = 240 ] && die "radosgw not answering on 127.0.0.1:$port_now; see $DATA/log/rgw.a.log"
  done
  log "restarted the existing cluster in $DATA (data kept)"
  cat "$DATA/s3.env"
  exit 0
fi

# Never wipe a directory that is not ours.
case "$DATA" in /|/root|/home|/tmp|/work|"$REPO") die "refusing to use $DATA as the data dir";; esac
if [ -e "$DATA" ]; then
  [ -d "$DATA" ] || die "$DATA exists and is not a directory"
  if [ -n "$(ls -A "$DATA")" ] && [ ! -f "$DATA/ceph.conf" ]; then
    die "$DATA is not empty and has no ceph.conf; refusing to wipe it (set CEPH_DATA)"
  fi
fi

rm -rf "$DATA"
mkdir -p "$DATA"/{run,log,mon,mgr,osd,rgw,tmp}
DATA=$(cd "$DATA" && pwd)
CONF=$DATA/ceph.conf
export CEPH_CONF=$CONF
FSID=$(cat /proc/sys/kernel/random/uuid)

cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_PORT1]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
public_network = 127.0.0.0/8
ms_bind_ipv6 = false
ms_bind_ipv4 = true
ms_bind_port_min = $PORT_MIN
ms_bind_port_max = $((PORT_MIN + 200))
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
keyring = $DATA/keyring
run_dir = $DATA/run
admin_socket = $DATA/run/\$cluster-\$name.asok
pid_file = $DATA/run/\$name.pid
log_file = $DATA/log/\$name.log
crash_dir = $DATA/crash
exporter_sock_dir = $DATA/run
log_to_stderr = false
err_to_stderr = false
log_to_syslog = false
# replication: 3 copies, failure domain = osd (all OSDs live on one host)
osd_pool_default_size = $POOL_SIZE
osd_pool_default_min_size = $(( POOL_SIZE > 1 ? POOL_SIZE - POOL_SIZE / 2 : 1 ))
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_allow_pool_delete = true
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_warn_on_insecure_global_id_reclaim_allowed = false
# fast failure detection on a single host
mon_osd_reporter_subtree_level = osd
mon_osd_min_down_reporters = 1
osd_heartbeat_interval = 1
osd_heartbeat_grace = 6
mon_osd_down_out_interval = 600
# small machine
ms_async_op_threads = 2
rocksdb_cache_size = 33554432

[mon]
mon_data = $DATA/mon/\$id
keyring = $DATA/mon/\$id/keyring
mon_memory_target = 268435456
mon_cluster_log_file = $DATA/log/cluster.log
# commit map changes every 50 ms instead of every 1 s (pool/osd creation speed)
paxos_propose_interval = 0.05
mon_data_avail_warn = 2
mon_data_avail_crit = 1
mgr_initial_modules = iostat

[mgr]
mgr_data = $DATA/mgr/\$id
keyring = $DATA/mgr/\$id/keyring

[osd]
osd_data = $DATA/osd/\$id
keyring = $DATA/osd/\$id/keyring
osd_objectstore = $OSD_STORE
bluestore_block_create = true
bluestore_block_size = 5368709120
bluestore_fsck_on_mkfs = false
bluestore_fsck_on_mount = false
osd_memory_target = 939524096
osd_memory_cache_min = 67108864
memstore_device_bytes = 2147483648
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1
osd_recovery_sleep = 0
osd_recovery_sleep_hdd = 0
osd_recovery_sleep_ssd = 0
osd_recovery_sleep_hybrid = 0
osd_scrub_during_recovery = false
osd_scrub_begin_hour = 0
osd_scrub_end_hour = 0
osd_max_scrubs = 1
osd_crush_update_on_start = true

[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_data = $DATA/rgw
keyring = $DATA/rgw/keyring
rgw_thread_pool_size = 64
rgw_enable_apis = s3, admin
rgw_dns_name = localhost
log_file = $DATA/log/rgw.a.log
# Lifecycle "days" last this many seconds (storage tiering tests, #18); -1 = real days.
rgw_lc_debug_interval = $LC_DEBUG_INTERVAL
EOF

# ---------------------------------------------------------------- keys + mon
# All daemon keys are generated locally and seeded into the mon's auth db at
# mkfs time, so no `ceph auth ...` round trips are needed later.
key() { # keyring-file name caps...
  local f=$1 n=$2; shift 2
  ceph-authtool --create-keyring "$f" --gen-key -n "$n" "$@" >/dev/null
  ceph-authtool "$DATA/mon.keyring" --import-keyring "$f" >/dev/null
}
ceph-authtool --create-keyring "$DATA/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
key "$DATA/keyring" client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
mkdir -p "$DATA/mgr/x" "$DATA/rgw"
key "$DATA/mgr/x/keyring" mgr.x --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *'
key "$DATA/rgw/keyring" client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw'
for n in $(seq 0 $((NUM_OSD - 1))); do
  mkdir -p "$DATA/osd/$n"
  key "$DATA/osd/$n/keyring" "osd.$n" --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *'
done
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_PORT1]" "$DATA/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$DATA/monmap" --keyring "$DATA/mon.keyring"
ceph-mon -i a
log "mon.a started (pid $(cat "$DATA/run/mon.a.pid"))"

# wait for mon quorum
for i in $(seq 1 60); do
  ceph --connect-timeout 5 mon stat >/dev/null 2>&1 && break
  sleep 0.5
  [ "$i" = 60 ] && die "mon did not come up; see $DATA/log/mon.a.log"
done
log "mon.a in quorum"

# One ceph CLI session for all mon commands (each CLI start costs ~0.3 s):
# register the OSD ids, pre-create the RGW pools (size $POOL_SIZE, 8 PGs each, so
# radosgw does not create them lazily while the first client waits), mgr knobs.
RGW_POOLS=".rgw.root default.rgw.log default.rgw.control default.rgw.meta default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec default.rgw.cold.data"
OSD_UUIDS=()
{
  echo "config set mgr mgr/devicehealth/enable_monitoring false --force"
  echo "config set mgr mgr/telemetry/enabled false --force"
  for n in $(seq 0 $((NUM_OSD - 1))); do
    echo "osd new $(cat /proc/sys/kernel/random/uuid | tee "$DATA/osd/$n/uuid") $n"
  done
  for p in $RGW_POOLS; do
    echo "osd pool create $p 8 8 replicated"
    echo "osd pool application enable $p rgw"
  done
} >"$DATA/tmp/bootstrap.cmds"
ceph <"$DATA/tmp/bootstrap.cmds" >"$DATA/log/bootstrap.out" 2>&1 \
  || { cat "$DATA/log/bootstrap.out" >&2; die "bootstrap mon commands failed"; }
log "osd ids registered, rgw pools created"

# ------------------------------------------------------------------- mgr
if [ "$WITH_MGR" = 1 ]; then
  ceph-mgr -i x
  log "mgr.x started (pid $(cat "$DATA/run/mgr.x.pid"))"
fi

# ------------------------------------------------------------------- osds
pids=()
for n in $(seq 0 $((NUM_OSD - 1))); do
  ( ceph-osd -i "$n" --mkfs --osd-uuid "$(cat "$DATA/osd/$n/uuid")" >"$DATA/log/osd.$n.mkfs.log" 2>&1 \
      || { cat "$DATA/log/osd.$n.mkfs.log" >&2; exit 1; }
    ceph-osd -i "$n" ) &   # returns once the daemon has mounted its store and forked
  pids+=($!)
done
for n in "${!pids[@]}"; do
  wait "${pids[$n]}" || die "osd.$n mkfs/start failed; see $DATA/log/osd.$n.log"
  log "osd.$n started (pid $(cat "$DATA/run/osd.$n.pid"))"
done

# ------------------------------------------------------------------- rgw
radosgw -n client.rgw.a
# radosgw writes its pid file a moment after forking; down.sh needs it
for i in $(seq 1 100); do [ -s "$DATA/run/client.rgw.a.pid" ] && break; sleep 0.1; done
log "radosgw started (pid $(cat "$DATA/run/client.rgw.a.pid" 2>/dev/null || echo '?'))"

for i in $(seq 1 240); do
  code=$(http_code "$RGW_PORT")
  [ "$code" = 200 ] && break
  sleep 0.25
  [ "$i" = 240 ] && die "radosgw not answering on 127.0.0.1:$RGW_PORT; see $DATA/log/rgw.a.log"
done
log "radosgw answering on http://127.0.0.1:$RGW_PORT"

# Storage tiering (#18): a COLD storage class in the default placement, on a pool of its own (here
# replicated like the rest; in production an erasure-coded pool on dense disks). radosgw reads the
# zone's placement at start, so it is restarted once.
radosgw-admin zonegroup placement add --rgw-zonegroup default --placement-id default-placement --storage-class COLD >/dev/null
radosgw-admin zone placement add --rgw-zone default --placement-id default-placement --storage-class COLD \
  --data-pool default.rgw.cold.data >/dev/null
rgw_pid=$(cat "$DATA/run/client.rgw.a.pid")
kill "$rgw_pid"
for i in $(seq 1 100); do kill -0 "$rgw_pid" 2>/dev/null || break; sleep 0.1; done
rm -f "$DATA/run/client.rgw.a.pid"
radosgw -n client.rgw.a
for i in $(seq 1 100); do [ -s "$DATA/run/client.rgw.a.pid" ] && break; sleep 0.1; done
for i in $(seq 1 240); do
  [ "$(http_code "$RGW_PORT")" = 200 ] && break
  sleep 0.25
  [ "$i" = 240 ] && die "radosgw not answering after the storage class was added; see $DATA/log/rgw.a.log"
done
log "storage class COLD added (pool default.rgw.cold.data), lifecycle day = ${LC_DEBUG_INTERVAL} s"

radosgw-admin user create --uid=test --display-name="test user" \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$DATA/user.json"

umask 077   # s3.env holds the secret key
cat >"$DATA/s3.env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export S3_HOST=127.0.0.1
export S3_PORT=$RGW_PORT
export S3_ACCESS_KEY=$ACCESS_KEY
export S3_SECRET_KEY=$SECRET_KEY
export S3_REGION=default
export CEPH_CONF=$CONF
export CEPH_DATA=$DATA
export S3_LC_DEBUG_INTERVAL=$([ "$LC_DEBUG_INTERVAL" -gt 0 ] && echo "$LC_DEBUG_INTERVAL" || echo 0)
EOF
log "S3 ready"
cat "$DATA/s3.env"
