#!/usr/bin/env bash
# Mainstream GraphQL clients, each with its defaults, against a freshly built Agora (issue 17): builds
# Agora, starts it on a free port with a throwaway SQLite database, and runs
# scripts/clients-check/check.mjs against it — urql (core, graphcache, fetchSubscriptions), Apollo
# Client 4 (query, HTTP multipart subscription), a query with @defer through both, and graphql-sse
# (distinct connections and single connection). Prints one line per client and "OK"; exits
# non-zero with the reason (and the server's log) otherwise.
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

source "$script_dir/check-lib.sh"
require_node

# --- the clients, at the locked versions (skipped when they are installed already) ---------------
npm_install_locked

if [ -n "${CLIENTS_CHECK_URL:-}" ]; then
  exec node "$check_dir/check.mjs" "$CLIENTS_CHECK_URL"
fi

# --- build and start Agora --------------------------------------------------------------------------
start_agora clients-check "${CLIENTS_CHECK_STARTUP_TIMEOUT:-60}"

# --- the check ----------------------------------------------------------------------------------------
status=0
node "$check_dir/check.mjs" "$base/graphql" || status=$?
if [ "$status" -ne 0 ]; then
  show_server_log
fi
exit "$status"
