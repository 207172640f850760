#!/usr/bin/env bash
# GraphiQL in a real browser, offline (issue 17, "A browser check in CI"): builds Agora, starts it on
# a free port with a throwaway SQLite database and the in-process bus, and runs
# scripts/browser-check/check.mjs, which drives headless Chromium (Debian's package) through
# playwright-core with every request to anything but the server blocked: the page must open with
# the default operation and the Authorization placeholder, show the schema in the Docs panel, run a
# query and a signed-in query, and receive a live comment through a subscription over graphql-ws;
# then a single-page app on another origin signs in with the refresh cookie (the server runs with
# AGORA_REFRESH_COOKIE=true), reads the feed and receives a live comment. Screenshots of each step are saved in the artifacts folder. Quiet on success but for one "OK"
# line; exits non-zero with the reason (and the server log) otherwise.
#
# Usage:
#   scripts/browser-check.sh                                    # build, start, check, clean up
#   BROWSER_CHECK_URL=http://127.0.0.1:8080 scripts/browser-check.sh   # check a running server (in cookie mode)
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

source "$script_dir/check-lib.sh"
require_node

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
npm_install_locked

rm -rf "$artifacts"
mkdir -p "$artifacts"

if [ -n "${BROWSER_CHECK_URL:-}" ]; then
  cd "$repo_root"
  exec node "$check_dir/check.mjs" "$BROWSER_CHECK_URL" "$artifacts"
fi

# --- build and start Agora --------------------------------------------------------------------------------
start_agora browser-check "${BROWSER_CHECK_STARTUP_TIMEOUT:-60}" AGORA_REFRESH_COOKIE=true

# --- the check ----------------------------------------------------------------------------------------------
status=0
(cd "$repo_root" && node "$check_dir/check.mjs" "$base" "$artifacts") || status=$?
if [ "$status" -ne 0 ]; then
  show_server_log
fi
exit "$status"
