#!/usr/bin/env bash
# GraphQL-over-HTTP conformance audit (graphql-http's serverAudits).
#
# Usage:
#   scripts/graphql-http-audit.sh                 # build + start the server, audit it
#   AUDIT_URL=http://host:port/graphql scripts/graphql-http-audit.sh
#                                                 # audit an already running endpoint
#
# Exits non-zero when any MUST audit fails (SHOULD/MAY failures are only
# printed as warnings), or when the server cannot be built or started.
#
# Optional environment:
#   AUDIT_URL               endpoint to audit instead of building/starting the server
#   AUDIT_STARTUP_TIMEOUT   seconds to wait for /healthz (default 60)
#   AUDIT_SHOW_SERVER_LOG=1 print the server's log when the audit fails
#   AUDIT_TIMEOUT_MS, AUDIT_VERBOSE   passed through to scripts/audit/audit.mjs
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
audit_dir="$script_dir/audit"
repo_root="$(cd "$script_dir/.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'graphql-http-audit: %s\n' "$*" >&2; exit 1; }

# --- prerequisites -----------------------------------------------------------
command -v node >/dev/null 2>&1 ||
  die "node not found: install Node.js >= 18 (e.g. apt-get install nodejs npm) to run the audit"
command -v npm >/dev/null 2>&1 ||
  die "npm not found: install npm (e.g. apt-get install npm) to run the audit"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] ||
  die "node $(node --version) is too old: the audit needs Node.js >= 18 (global fetch)"

# --- audit dependencies --------------------------------------------------------
log "installing audit dependencies (scripts/audit)"
npm_log="$(mktemp)"
if [ -f "$audit_dir/package-lock.json" ]; then
  npm_cmd=(npm ci --no-audit --no-fund --loglevel=error)
else
  npm_cmd=(npm install --no-audit --no-fund --loglevel=error)
fi
if ! (cd "$audit_dir" && "${npm_cmd[@]}") >"$npm_log" 2>&1; then
  cat "$npm_log" >&2
  rm -f "$npm_log"
  die "'${npm_cmd[*]}' failed in $audit_dir"
fi
rm -f "$npm_log"

run_audit() {
  node "$audit_dir/audit.mjs" "$1"
}

# --- audit an existing endpoint --------------------------------------------------
if [ -n "${AUDIT_URL:-}" ]; then
  log "auditing $AUDIT_URL"
  run_audit "$AUDIT_URL"   # set -e: its exit status is ours
  exit 0
fi

# --- build, start and audit the server -------------------------------------------
command -v go >/dev/null 2>&1 || die "go not found: needed to build the server (or set AUDIT_URL)"

tmp="$(mktemp -d)"
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
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building server"
(cd "$repo_root" && go build -o "$tmp/agora" .) || die "go build failed"

port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
base="http://127.0.0.1:$port"

log "starting server on port $port"
AGORA_SQLITE_PATH="$tmp/agora.db" PORT="$port" AGORA_ENV=development \
  "$tmp/agora" >"$tmp/server.log" 2>&1 &
server_pid=$!

show_server_log() {
  echo "----- server log ($tmp/server.log) -----" >&2
  cat "$tmp/server.log" >&2 || true
  echo "----- end of server log -----" >&2
}

# Healthy once GET /healthz answers 2xx.
probe='fetch(process.argv[1],{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))'
startup_timeout="${AUDIT_STARTUP_TIMEOUT:-60}"
deadline=$((SECONDS + startup_timeout))
until node -e "$probe" "$base/healthz" 2>/dev/null; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    show_server_log
    die "server exited before $base/healthz answered"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    show_server_log
    die "server did not answer $base/healthz within ${startup_timeout}s"
  fi
  sleep 0.5
done

log "auditing $base/graphql"
status=0
run_audit "$base/graphql" || status=$?
if [ "$status" -ne 0 ] && [ -n "${AUDIT_SHOW_SERVER_LOG:-}" ]; then
  show_server_log
fi
exit "$status"
