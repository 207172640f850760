#!/usr/bin/env bash
# Agora behind two real Apollo Federation gateways (issues 6 and 17, "How we check"): builds Agora,
# starts it twice on free ports with throwaway SQLite databases — once with its defaults (the subgraph
# SDL carries @authenticated, @requiresScopes and @policy for routers that enforce them) and once with
# AGORA_FEDERATION_AUTH_DIRECTIVES=omit (for Apollo Gateway, which refuses a supergraph it cannot
# enforce) — and runs scripts/federation-check/check.mjs against them. That starts a second subgraph
# ("extras", @apollo/subgraph) extending User with reputation and Post with readingMinutes, then:
#   - Apollo Gateway (@apollo/server) composing the omit instance and extras with IntrospectAndCompose,
#     forwarding the Authorization header to Agora: register, publish, posts, viewer, node, spotlight;
#   - Hive Gateway (@graphql-hive/gateway-runtime) serving the supergraph of the default instance and
#     extras: posts across both subgraphs, the signed-in viewer, and a commentAdded subscription.
# Through both, Agora refuses createPost without a token. Quiet on success but for one "OK" line;
# exits non-zero with the reason (and the gateways' and the servers' logs) otherwise.
#
# Usage:
#   scripts/federation-check.sh                                   # build, start, check, clean up
#   FEDERATION_CHECK_URL=http://host:port/graphql FEDERATION_CHECK_OMIT_URL=http://host:port2/graphql \
#     scripts/federation-check.sh                                 # check running Agoras (the second with omit)
#   FEDERATION_CHECK_HINTS=1 scripts/federation-check.sh          # also print the composition hints
#
# Needs Node.js >= 20 with npm (the packages pinned in scripts/federation-check/package-lock.json are
# installed into scripts/federation-check/node_modules, git-ignored) and Go.
# Optional: FEDERATION_CHECK_TIMEOUT_MS (the check itself, default 45000),
# FEDERATION_CHECK_STARTUP_TIMEOUT (seconds to wait for the servers, default 60).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check_dir="$script_dir/federation-check"
repo_root="$(cd "$script_dir/.." && pwd)"

die() { printf 'federation check: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found: install Node.js >= 20 with npm"
command -v npm >/dev/null 2>&1 || die "npm not found: install npm"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "node $(node --version) is too old: the pinned Apollo packages need Node.js >= 20"

# --- gateway and subgraph packages, at the locked versions (skipped when they are installed already) -
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

if [ -n "${FEDERATION_CHECK_URL:-}" ]; then
  [ -n "${FEDERATION_CHECK_OMIT_URL:-}" ] || die "FEDERATION_CHECK_OMIT_URL: set it to an Agora running with AGORA_FEDERATION_AUTH_DIRECTIVES=omit"
  exec node "$check_dir/check.mjs" "$FEDERATION_CHECK_URL" "$FEDERATION_CHECK_OMIT_URL"
fi

# --- build and start Agora --------------------------------------------------------------------------
command -v go >/dev/null 2>&1 || die "go not found: needed to build the server (or set FEDERATION_CHECK_URL)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/agora-federation-check.XXXXXX")"
server_pids=()
cleanup() {
  local rc=$?
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${server_pids[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

(cd "$repo_root" && go build -o "$tmp/agora" .) >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; die "go build failed"; }

secret="$(node -p 'require("crypto").randomBytes(32).toString("hex")')"
# From their own directories, so that no .env applies; only the settings below (embedded SQLite,
# in-process bus).
agora_env=(-u DATABASE_URL -u REDIS_URL)
while IFS='=' read -r name _; do
  case "$name" in AGORA_*) agora_env+=(-u "$name") ;; esac
done < <(env)

# start NAME [VAR=VALUE…]: starts an Agora with those settings on a free port; sets started_url to
# its base URL.
start() {
  local name=$1 port
  shift
  mkdir -p "$tmp/$name"
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  (cd "$tmp/$name" && exec env "${agora_env[@]}" AGORA_ENV=development AGORA_SQLITE_PATH="$tmp/$name/agora.db" PORT="$port" \
    AGORA_JWT_SECRET="$secret" AGORA_LOG_LEVEL=warn "$@" "$tmp/agora") >"$tmp/$name/server.log" 2>&1 &
  server_pids+=($!)
  started_url="http://127.0.0.1:$port"
}

show_server_logs() {
  for name in default omit; do
    echo "----- server log ($name) -----" >&2
    cat "$tmp/$name/server.log" >&2 || true
  done
  echo "----- end of server logs -----" >&2
}

start default
base=$started_url
start omit AGORA_FEDERATION_AUTH_DIRECTIVES=omit
omit_base=$started_url

probe='fetch(process.argv[1],{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))'
deadline=$((SECONDS + ${FEDERATION_CHECK_STARTUP_TIMEOUT:-60}))
for b in "$base" "$omit_base"; do
  until node -e "$probe" "$b/readyz" 2>/dev/null; do
    for pid in "${server_pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || { show_server_logs; die "a server exited at start-up"; }
    done
    [ "$SECONDS" -lt "$deadline" ] || { show_server_logs; die "the server at $b did not answer /readyz in time"; }
    sleep 0.2
  done
done

# --- the check ----------------------------------------------------------------------------------------
status=0
node "$check_dir/check.mjs" "$base/graphql" "$omit_base/graphql" || status=$?
if [ "$status" -ne 0 ]; then
  show_server_logs
fi
exit "$status"
