#!/usr/bin/env bash
# Agora's subscriptions through the graphql-ws npm client (issue 5, "How we check"): builds Agora,
# starts it on a free port with a throwaway SQLite database and the in-process bus, and runs
# scripts/graphql-ws-check/check.mjs against it: commentAdded events triggered by addComment over
# HTTP must reach graphql-ws subscribers (signed in and anonymous) with the right body and author,
# and the post's author must get notificationAdded. Quiet on success but for one "OK" line; exits
# non-zero with the reason (and the server log) otherwise.
#
# Usage:
#   scripts/graphql-ws-check.sh                                  # build, start, check, clean up
#   WS_CHECK_URL=http://host:port/graphql scripts/graphql-ws-check.sh   # check a running server
#
# Needs Node.js >= 20 with npm (the packages pinned in scripts/graphql-ws-check/package-lock.json
# are installed into scripts/graphql-ws-check/node_modules, git-ignored) and Go.
# Optional: WS_CHECK_TIMEOUT_MS (the check itself, default 30000), WS_CHECK_STARTUP_TIMEOUT
# (seconds to wait for the server, default 60).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check_dir="$script_dir/graphql-ws-check"
repo_root="$(cd "$script_dir/.." && pwd)"

die() { printf 'graphql-ws check: %s\n' "$*" >&2; exit 1; }

source "$script_dir/check-lib.sh"
require_node

# --- the client, at the locked versions (skipped when they are installed already) ------------------
npm_install_locked

if [ -n "${WS_CHECK_URL:-}" ]; then
  exec node "$check_dir/check.mjs" "$WS_CHECK_URL"
fi

# --- build and start Agora --------------------------------------------------------------------------
start_agora graphql-ws-check "${WS_CHECK_STARTUP_TIMEOUT:-60}"

# --- the check ----------------------------------------------------------------------------------------
status=0
node "$check_dir/check.mjs" "$base/graphql" || status=$?
if [ "$status" -ne 0 ]; then
  show_server_log
fi
exit "$status"
