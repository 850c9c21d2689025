#!/usr/bin/env bash
# Shared by infra/dev/start.sh (`npm start`) and infra/dev/test.sh (`npm test`): make sure npm
# dependencies, the build, PostgreSQL and Redis are there, starting local ones under .data/ when the
# configured ones do not answer. Everything this script starts is recorded in .data/run/ and stopped
# by `yy_stop_started` — and only that.

YY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
YY_DATA="$YY_ROOT/.data"
YY_RUN="$YY_DATA/run"
mkdir -p "$YY_RUN"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 NEXT_TELEMETRY_DISABLED=1
# onnxruntime-node's install script would download the CUDA 12 execution provider (hundreds of MB) on
# linux/x64; Yunying runs on the CPU. Its documented environment switch, because npm warns about unknown
# keys in .npmrc (npm 11 also runs no dependency install script it was not told to allow).
export ONNXRUNTIME_NODE_INSTALL=skip

yy_log() { printf '\033[1;36m[yunying]\033[0m %s\n' "$*" >&2; }
yy_die() { printf '\033[1;31m[yunying] error:\033[0m %s\n' "$*" >&2; exit 1; }
yy_is_root() { [ "$(id -u)" = 0 ]; }

# apt-get install, only as root; otherwise say exactly what to run.
yy_apt_install() {
  if ! yy_is_root || ! command -v apt-get >/dev/null; then
    yy_die "missing $* — install it with: sudo apt-get install -y $*"
  fi
  yy_log "installing $* with apt-get"
  if [ ! -f "$YY_RUN/apt-updated" ]; then apt-get update -q >/dev/null && touch "$YY_RUN/apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null || yy_die "apt-get install $* failed"
}

yy_ensure_node_deps() {
  command -v node >/dev/null || yy_die "Node.js 20 or newer is required (https://nodejs.org or: apt-get install nodejs npm)"
  local want have=""
  want=$(sha256sum "$YY_ROOT/package-lock.json" | cut -d' ' -f1)
  [ -f "$YY_ROOT/node_modules/.yunying-lock" ] && have=$(cat "$YY_ROOT/node_modules/.yunying-lock")
  if [ "$want" != "$have" ]; then
    yy_log "installing npm dependencies (npm ci)"
    (cd "$YY_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || yy_die "npm ci failed"
    echo "$want" > "$YY_ROOT/node_modules/.yunying-lock"
  fi
}

yy_build() {
  yy_log "building (turbo)"
  (cd "$YY_ROOT" && npx --no-install turbo run build --output-logs=errors-only) || yy_die "build failed"
}

# host port dbname user of a postgres URL
yy_pg_parts() {
  node -e 'const u=new URL(process.argv[1]); console.log(u.hostname||"127.0.0.1", u.port||"5432", decodeURIComponent(u.pathname.slice(1))||"postgres", decodeURIComponent(u.username)||"postgres")' "$1"
}

yy_pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && echo "$d"
}

yy_ensure_postgres() {
  local url=$1 host port db user bindir pgdata
  read -r host port db user < <(yy_pg_parts "$url")
  if ! pg_isready -q -h "$host" -p "$port" -t 3 2>/dev/null; then
    command -v pg_isready >/dev/null || true
    bindir=$(yy_pg_bindir) || true
    if [ -z "$bindir" ]; then yy_apt_install postgresql; bindir=$(yy_pg_bindir) || yy_die "PostgreSQL binaries not found after install"; fi
    # The Debian package may have started its own cluster on 5432: use it if it now answers.
    if ! "$bindir/pg_isready" -q -h "$host" -p "$port" -t 3; then
      pgdata="$YY_DATA/postgres"
      local as=()
      if yy_is_root; then as=(runuser -u postgres --); fi
      if [ ! -f "$pgdata/PG_VERSION" ]; then
        yy_log "initialising a local PostgreSQL in $pgdata"
        mkdir -p "$pgdata"; yy_is_root && chown postgres:postgres "$pgdata"; chmod 700 "$pgdata"
        "${as[@]}" "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null || yy_die "initdb failed"
      fi
      # The server runs as the postgres user: its socket and log live in a directory it owns.
      local rundir="$YY_DATA/postgres-run"
      mkdir -p "$rundir"; yy_is_root && chown postgres:postgres "$rundir"
      yy_log "starting PostgreSQL on $host:$port"
      "${as[@]}" "$bindir/pg_ctl" -D "$pgdata" -l "$rundir/postgres.log" -w -t 30 \
        -o "-c listen_addresses=$host -p $port -k $rundir" start >/dev/null || yy_die "PostgreSQL did not start; see .data/postgres-run/postgres.log"
      echo "$pgdata" > "$YY_RUN/postgres.started"
    fi
  fi
  if [ "$(psql -h "$host" -p "$port" -U "$user" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" 2>/dev/null)" != 1 ]; then
    psql -h "$host" -p "$port" -U "$user" -d postgres -qc "CREATE DATABASE \"$db\"" >/dev/null || yy_die "cannot create database $db on $host:$port"
  fi
}

yy_redis_ping() { # host port
  ( exec 3<>"/dev/tcp/$1/$2" && printf 'PING\r\n' >&3 && IFS= read -r -t 2 line <&3 && [[ $line == +PONG* ]] ) 2>/dev/null
}

yy_ensure_redis() {
  local url=$1 host port
  read -r host port < <(node -e 'const u=new URL(process.argv[1]); console.log(u.hostname||"127.0.0.1", u.port||"6379")' "$url")
  yy_redis_ping "$host" "$port" && return 0
  command -v redis-server >/dev/null || yy_apt_install redis-server
  mkdir -p "$YY_DATA/redis"
  yy_log "starting Redis on $host:$port"
  # Append-only persistence: queued work survives a Redis restart (the catalog outbox covers the rest).
  redis-server --bind "$host" --port "$port" --dir "$YY_DATA/redis" --appendonly yes --save "" \
    --daemonize yes --pidfile "$YY_RUN/redis.pid" --logfile "$YY_DATA/redis.log" --maxmemory-policy noeviction >/dev/null \
    || yy_die "Redis did not start; see .data/redis.log"
  for _ in $(seq 50); do yy_redis_ping "$host" "$port" && { echo "$YY_RUN/redis.pid" > "$YY_RUN/redis.started"; return 0; }; sleep 0.1; done
  yy_die "Redis did not answer on $host:$port"
}

yy_stop_started() {
  yy_stop_local_s3
  if [ -f "$YY_RUN/redis.started" ]; then
    local pid; pid=$(cat "$YY_RUN/redis.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid"; yy_log "stopped Redis"; fi
    rm -f "$YY_RUN/redis.started"
  fi
  if [ -f "$YY_RUN/postgres.started" ]; then
    local bindir as=(); bindir=$(yy_pg_bindir); yy_is_root && as=(runuser -u postgres --)
    "${as[@]}" "$bindir/pg_ctl" -D "$(cat "$YY_RUN/postgres.started")" -m fast -w stop >/dev/null 2>&1 && yy_log "stopped PostgreSQL"
    rm -f "$YY_RUN/postgres.started"
  fi
}

# A random secret kept under .data so tokens survive restarts of the dev system.
yy_ensure_token_secret() {
  if [ -z "${AUTH_TOKEN_SECRET:-}" ]; then
    mkdir -p "$YY_DATA/secrets"; chmod 700 "$YY_DATA/secrets"
    [ -s "$YY_DATA/secrets/token-secret" ] || (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' > "$YY_DATA/secrets/token-secret")
    AUTH_TOKEN_SECRET=$(cat "$YY_DATA/secrets/token-secret"); export AUTH_TOKEN_SECRET
  fi
}

# The services' own database login (issue #17): `yunying_service`, a member of `yunying_app` (ordinary DML,
# the audit tables append-only: migration 0200), never the owner or a superuser, so a compromised service
# cannot switch the audit triggers off (session_replication_role) or rewrite the chain. Migrations and the
# seed run as the owner before. Sets DATABASE_URL to that login and DATABASE_MIGRATE=false. Skipped when the
# caller chose DATABASE_MIGRATE, or (with a warning) when the owner may not create roles.
yy_use_service_role() {
  [ -z "${DATABASE_MIGRATE:-}" ] || return 0
  local url=$DATABASE_URL host port db user pw
  read -r host port db user < <(yy_pg_parts "$url")
  mkdir -p "$YY_DATA/secrets"; chmod 700 "$YY_DATA/secrets"
  [ -s "$YY_DATA/secrets/db-service-password" ] || (umask 077; head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$YY_DATA/secrets/db-service-password")
  pw=$(cat "$YY_DATA/secrets/db-service-password")
  if ! PGPASSWORD=$(node -e 'console.log(decodeURIComponent(new URL(process.argv[1]).password))' "$url") \
    psql -h "$host" -p "$port" -U "$user" -d "$db" -v ON_ERROR_STOP=1 -v pw="$pw" -q >/dev/null 2>"$YY_DATA/service-role.log" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'yunying_service') THEN CREATE ROLE yunying_service LOGIN; END IF;
END $$;
ALTER ROLE yunying_service WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw';
GRANT yunying_app TO yunying_service;
SQL
  then
    yy_log "warning: could not create the least-privileged login yunying_service (see .data/service-role.log); the services connect as $user"
    return 0
  fi
  DATABASE_URL=$(node -e 'const u=new URL(process.argv[1]); u.username="yunying_service"; u.password=process.argv[2]; console.log(u.href)' "$url" "$pw")
  export DATABASE_URL DATABASE_MIGRATE=false
}

# STORAGE_BACKEND=s3 without S3_ENDPOINTS: a local Ceph RGW with Object Lock under .data/ceph
# (infra/ceph), with three buckets for the three copies. Installs Ceph with apt when root.
yy_ensure_local_s3() {
  command -v radosgw >/dev/null && command -v ceph-mon >/dev/null || yy_apt_install ceph-mon ceph-mgr ceph-osd radosgw ceph-common
  yy_log "starting a local S3 with Object Lock (Ceph RGW)"
  # Its own data dir, kept across restarts (CEPH_PERSIST / CEPH_KEEP_DATA): the test cluster is throw-away, this one is not.
  CEPH_DATA="$YY_DATA/ceph-dev" CEPH_PERSIST=1 RGW_PORT=${YY_LOCAL_S3_PORT:-7490} CEPH_MON_PORT=${YY_LOCAL_S3_MON_PORT:-3310} CEPH_PORT_MIN=7000 \
    bash "$YY_ROOT/infra/ceph/up.sh" > "$YY_DATA/ceph-up.out" 2> "$YY_DATA/ceph-up.log" || yy_die "Ceph did not start; see .data/ceph-up.log"
  echo 1 > "$YY_RUN/ceph.started"
  set -a; source "$YY_DATA/ceph-up.out"; set +a
  export S3_ENDPOINTS="$S3_ENDPOINT"
  export S3_BUCKETS=${S3_BUCKETS:-yunying-copy-1,yunying-copy-2,yunying-copy-3}
  # One generated credential per copy (#17): RGW users yunying-copy-N own bucket N, yunying-read-N may only
  # read it. Every role gets the writers' keys: the viewer stores signed report SRs and key-image KOS through
  # the one write path, so with the readers' keys signing would fail (docs/security-storage.md). The readers'
  # keys are for read-only tools. The cluster's own user (S3_ACCESS_KEY) is not handed to the archive.
  local creds
  # The thumbnails bucket (config default: the first bucket + "-derived") is readable by yunying-read-1.
  creds=$(IFS=,; set -- $S3_BUCKETS; bash "$YY_ROOT/infra/ceph/copy-credentials.sh" yunying "$@" "${S3_DERIVED_BUCKET:-$(d="$1-derived"; echo "${d:0:63}")}" 2>> "$YY_DATA/ceph-up.log") \
    || yy_die "could not create the per-copy S3 users; see .data/ceph-up.log"
  eval "$creds"
  export S3_ACCESS_KEYS S3_SECRET_KEYS
  unset S3_ACCESS_KEY S3_SECRET_KEY S3_READ_ACCESS_KEYS S3_READ_SECRET_KEYS
}

yy_stop_local_s3() {
  if [ -f "$YY_RUN/ceph.started" ]; then
    CEPH_DATA="$YY_DATA/ceph-dev" CEPH_KEEP_DATA=1 bash "$YY_ROOT/infra/ceph/down.sh" >/dev/null 2>&1 && yy_log "stopped Ceph (data kept in .data/ceph-dev)"
    rm -f "$YY_RUN/ceph.started"
  fi
}
