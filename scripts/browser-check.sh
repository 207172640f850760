#!/usr/bin/env bash
# GraphiQL in a real browser, offline (issue 17, "A browser check in CI"): builds Agora, starts it on
# a free port with a throwaway SQLite database and the in-process bus, and runs
# scripts/browser-check/check.mjs, which drives headless Chromium (Debian's package) through
# playwright-core with every request to anything but the server blocked: the page must open with
# the default operation and the Authorization placeholder, show the schema in the Docs panel, run a
# query and a signed-in query, and receive a live comment through a subscription over graphql-ws.
# Screenshots of each step are saved in the artifacts folder. Quiet on success but for one "OK"
# line; exits non-zero with the reason (and the server log) otherwise.
#
# Usage:
#   scripts/browser-check.sh                                    # build, start, check, clean up
#   BROWSER_CHECK_URL=http://127.0.0.1:8080 scripts/browser-check.sh   # check a running server
#
# Needs Node.js >= 20 with npm (playwright-core, pinned in scripts/browser-check/package-lock.json, is
# installed into scripts/browser-check/node_modules, git-ignored), Go, and Chromium at
# /usr/bin/chromium: when it is missing and this runs as root, it is installed with apt-get.
# Optional: ARTIFACTS_DIR (default .ci/artifacts; the screenshots go to its browser-check/ folder),
# BROWSER_CHECK_TIMEOUT_MS (the check itself, default 90000), BROWSER_CHECK_STARTUP_TIMEOUT
# (seconds to wait for the server, default 60).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check_dir="$script_dir/browser-check"
repo_root="$(cd "$script_dir/.." && pwd)"
artifacts="${ARTIFACTS_DIR:-$repo_root/.ci/artifacts}/browser-check"

die() { printf 'browser check: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found: install Node.js >= 20 with npm"
command -v npm >/dev/null 2>&1 || die "npm not found: install npm"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "node $(node --version) is too old: playwright-core needs Node.js >= 20"

# --- the browser: Debian's chromium ----------------------------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
  [ "$(id -u)" -eq 0 ] || die "/usr/bin/chromium not found: install Debian's package chromium (as root: apt-get install chromium)"
  apt_log="$(mktemp)"
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    rm -f "$apt_log"
    die "apt-get install chromium failed"
  fi
  rm -f "$apt_log"
fi

# --- the driver, at the locked version (skipped when it is installed already) ----------------------------
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

rm -rf "$artifacts"
mkdir -p "$artifacts"

if [ -n "${BROWSER_CHECK_URL:-}" ]; then
  cd "$repo_root"
  exec node "$check_dir/check.mjs" "$BROWSER_CHECK_URL" "$artifacts"
fi

# --- build and start Agora --------------------------------------------------------------------------------
command -v go >/dev/null 2>&1 || die "go not found: needed to build the server (or set BROWSER_CHECK_URL)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/agora-browser-check.XXXXXX")"
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

# From $tmp, so that no .env applies; only the settings below (development: GraphiQL and
# introspection on; embedded SQLite, in-process bus).
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
deadline=$((SECONDS + ${BROWSER_CHECK_STARTUP_TIMEOUT:-60}))
until node -e "$probe" "$base/readyz" 2>/dev/null; do
  kill -0 "$server_pid" 2>/dev/null || { show_server_log; die "the server exited at start-up"; }
  [ "$SECONDS" -lt "$deadline" ] || { show_server_log; die "the server did not answer $base/readyz in time"; }
  sleep 0.2
done

# --- the check ----------------------------------------------------------------------------------------------
status=0
(cd "$repo_root" && node "$check_dir/check.mjs" "$base" "$artifacts") || status=$?
if [ "$status" -ne 0 ]; then
  show_server_log
fi
exit "$status"
