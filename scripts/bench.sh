#!/usr/bin/env bash
# Agora's benchmark in one command (`make bench`): installs wrk, PostgreSQL and redis-server when they
# are missing (apt, as root), starts a throwaway PostgreSQL cluster and redis-server in a temp dir,
# builds Agora and the tools in bench/, loads the data set (bench/cmd/benchdata), then
# bench/cmd/benchrun drives the scenarios with wrk and prints the table. Agora runs with production
# settings (AGORA_ENV=production, PostgreSQL, Redis; only the request budgets raised). Everything it
# started is stopped and removed on exit.
#
# Settings: BENCH_DURATION (per wrk run; default 15s, 18 runs: about 8 minutes in all on 2 cores),
# BENCH_THREADS (wrk threads, default 1), BENCH_CONNECTIONS (default 16, as the performance issue measured), BENCH_KEEP=1 keeps the
# temp dir (logs, wrk output), BENCH_PEERS=1 also runs the posts page on PostGraphile 5 (npm
# packages pinned in scripts/bench-peers, with the Node.js 22 it needs; one more run).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

scripts/test-deps.sh # PostgreSQL server binaries and redis-server
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "The benchmark needs wrk (Debian/Ubuntu: sudo apt-get install wrk)." >&2
    exit 1
  fi
  echo "==> installing wrk (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

peers=
if [ "${BENCH_PEERS:-0}" = 1 ]; then
  command -v npm >/dev/null 2>&1 || { echo "BENCH_PEERS=1 needs npm (Debian/Ubuntu: apt-get install npm)." >&2; exit 1; }
  peers="$PWD/scripts/bench-peers"
  if ! (cd "$peers" && node -e '
    const want = require("./package.json").dependencies;
    for (const [name, version] of Object.entries(want))
      if (require(`./node_modules/${name}/package.json`).version !== version) process.exit(1);') 2>/dev/null; then
    echo "==> installing the peers (npm ci in scripts/bench-peers)"
    (cd "$peers" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# initdb from PATH, else the newest of Debian's versioned dirs (not on PATH by default).
initdb=$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
pgbin=$(dirname "$initdb")

tmp=$(mktemp -d /tmp/agora-bench.XXXXXX)
chmod 755 "$tmp" # the postgres user must reach its cluster inside
mkdir "$tmp/pg" "$tmp/bin"

# PostgreSQL refuses to run as root: run its tools as the postgres user, from a dir it may enter.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then (cd "$tmp/pg" && runuser -u postgres -- "$@"); else (cd "$tmp/pg" && "$@"); fi
}
[ "$(id -u)" -eq 0 ] && chown postgres: "$tmp/pg"

redis_pid=
bench_pid=
cleanup() {
  local status=$?
  # benchrun stops what it started on SIGTERM; anything left of our binaries (benchrun was
  # killed hard) is stopped by path, which only matches processes started by this run.
  if [ -n "$bench_pid" ]; then kill "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; fi
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/exe" 2>/dev/null)" in "$tmp"/bin/*) kill "${p#/proc/}" 2>/dev/null || true ;; esac
  done
  if [ -f "$tmp/pg/data/postmaster.pid" ]; then
    as_postgres "$pgbin/pg_ctl" stop -D "$tmp/pg/data" -m immediate -w >/dev/null 2>&1 || true
  fi
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
    rm -rf "$tmp/pg/data" "$tmp/bin"
    echo "logs kept in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port: one nothing answers on (another process could take it before us; unlikely).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

echo "==> starting PostgreSQL and Redis in $tmp"
pg_port=$(free_port)
as_postgres "$initdb" -D "$tmp/pg/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
# fsync off only speeds up the load: the measured queries only read.
as_postgres "$pgbin/pg_ctl" start -D "$tmp/pg/data" -l "$tmp/pg/postgres.log" -w -t 60 \
  -o "-p $pg_port -h 127.0.0.1 -k '$tmp/pg/data' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
db_url="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --dir "$tmp" --logfile "$tmp/redis.log" &
redis_pid=$!
redis_url="redis://127.0.0.1:$redis_port/0"
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done

echo "==> building agora and bench/cmd/*"
# As the Dockerfile builds it (make static): static, stripped. Then copied, as a deploy copies it
# (the image's COPY, its layer unpacked on the host): the servers do not run the file the linker
# wrote, whose page cache alone maps into about 5 MiB more resident memory (docs/performance.md).
mkdir "$tmp/build"
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$tmp/build/agora" .
go build -o "$tmp/build/" ./bench/cmd/...
cp "$tmp/build/"* "$tmp/bin/"
rm -r "$tmp/build"

echo "==> migrating and loading the data set"
# From $tmp, so a developer's .env does not apply.
(cd "$tmp" && env -u AGORA_ENV DATABASE_URL="$db_url" AGORA_LOG_LEVEL=warn "$tmp/bin/agora" migrate)
"$tmp/bin/benchdata" -db "$db_url" -manifest "$tmp/data.json"

echo "==> running the scenarios (wrk, ${BENCH_DURATION:-15s} each)"
# In the background: bash runs its traps (Ctrl-C, kill) during `wait`, not during a foreground job.
"$tmp/bin/benchrun" -agora "$tmp/bin/agora" -baseline "$tmp/bin/baseline" -db "$db_url" -redis "$redis_url" \
  -manifest "$tmp/data.json" -lua "$PWD/bench/wrk/graphql.lua" -dir "$tmp" \
  -duration "${BENCH_DURATION:-15s}" -threads "${BENCH_THREADS:-1}" -connections "${BENCH_CONNECTIONS:-16}" \
  -pg-pid "$(head -n 1 "$tmp/pg/data/postmaster.pid")" -peers "$peers" &
bench_pid=$!
wait "$bench_pid"
bench_pid=

echo "Whole benchmark (install, build, load, runs): $(($(date +%s) - started)) s"
