#!/usr/bin/env bash
# Mainstream GraphQL clients, each with its defaults, against a freshly built Agora (issue 17): builds
# Agora, starts it on a free port with a throwaway SQLite database, and runs
# scripts/clients-check/check.mjs against it — urql (core, graphcache, fetchSubscriptions), Apollo
# Client 4 (query, HTTP multipart subscription) and graphql-sse (distinct connections and single
# connection). Prints one line per client and "OK"; exits non-zero with the reason (and the
# server's log) otherwise.
#
# Usage:
#   scripts/clients-check.sh                                       # build, start, check, clean up
#   CLIENTS_CHECK_URL=http://host:port/graphql scripts/clients-check.sh   # check a running Agora
#
# Needs Node.js >= 20 with npm (the packages pinned in scripts/clients-check/package-lock.json are
# installed into scripts/clients-check/node_modules, git-ignored) and Go.
# Optional: CLIENTS_CHECK_TIMEOUT_MS (the check itself, default 60000),
# CLIENTS_CHECK_STARTUP_TIMEOUT (seconds to wait for the server, default 60).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check_dir="$script_dir/clients-check"
repo_root="$(cd "$script_dir/.." && pwd)"

die() { printf 'clients check: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found: install Node.js >= 20 with npm"
command -v npm >/dev/null 2>&1 || die "npm not found: install npm"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "node $(node --version) is too old: the pinned clients need Node.js >= 20"

# --- the clients, at the locked versions (skipped when they are installed already) ---------------
installed() {
  (cd "$check_dir" && node -e '
    const want = require("./package.json").dependencies;
    for (const [name, version] of Object.entries(want)) {
      try {
        if (require(`./node_modules/${name}/package.json`).version !== version) process.exit(1);
      } catch { process.exit(1); }
    }') 2>/dev/null
}
if ! installed; then
  npm_log="$(mktemp)"
  if ! (cd "$check_dir" && npm ci --no-audit --no-fund --loglevel=error) >"$npm_log" 2>&1; then
    cat "$npm_log" >&2
    rm -f "$npm_log"
    die "npm ci failed in $check_dir"
  fi
  rm -f "$npm_log"
fi

if [ -n "${CLIENTS_CHECK_URL:-}" ]; then
  exec node "$check_dir/check.mjs" "$CLIENTS_CHECK_URL"
fi

# --- build and start Agora --------------------------------------------------------------------------
command -v go >/dev/null 2>&1 || die "go not found: needed to build the server (or set CLIENTS_CHECK_URL)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/agora-clients-check.XXXXXX")"
server_pid=""
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

(cd "$repo_root" && go build -o "$tmp/agora" .) >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; die "go build failed"; }

port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
base="http://127.0.0.1:$port"
secret="$(node -p 'require("crypto").randomBytes(32).toString("hex")')"

# From $tmp, so that no .env applies; only the settings below (embedded SQLite, in-process bus).
agora_env=(-u DATABASE_URL -u REDIS_URL)
while IFS='=' read -r name _; do
  case "$name" in AGORA_*) agora_env+=(-u "$name") ;; esac
done < <(env)
(cd "$tmp" && exec env "${agora_env[@]}" AGORA_ENV=development AGORA_SQLITE_PATH="$tmp/agora.db" PORT="$port" \
  AGORA_JWT_SECRET="$secret" AGORA_LOG_LEVEL=warn "$tmp/agora") >"$tmp/server.log" 2>&1 &
server_pid=$!

show_server_log() {
  echo "----- server log -----" >&2
  cat "$tmp/server.log" >&2 || true
  echo "----- end of server log -----" >&2
}

probe='fetch(process.argv[1],{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))'
deadline=$((SECONDS + ${CLIENTS_CHECK_STARTUP_TIMEOUT:-60}))
until node -e "$probe" "$base/readyz" 2>/dev/null; do
  kill -0 "$server_pid" 2>/dev/null || { show_server_log; die "the server exited at start-up"; }
  [ "$SECONDS" -lt "$deadline" ] || { show_server_log; die "the server did not answer $base/readyz in time"; }
  sleep 0.2
done

# --- the check ----------------------------------------------------------------------------------------
status=0
node "$check_dir/check.mjs" "$base/graphql" || status=$?
if [ "$status" -ne 0 ]; then
  show_server_log
fi
exit "$status"
