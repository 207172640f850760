#!/usr/bin/env bash
# Sign-in through an identity provider in a real browser: builds Agora and a local OpenID provider
# with a client page (scripts/signin-check/idp.go, mockoidc), starts them on free ports with a
# throwaway SQLite database, and runs scripts/browser-check/signin.mjs, which clicks "Continue with
# Local IdP" in headless Chromium (Debian's package) and expects the client page to come back
# signed in and show viewer. Quiet on success but for one "OK" line; exits non-zero with the
# reason (and the server log) otherwise. Screenshots go to ARTIFACTS_DIR/signin-check.
#
# Needs what scripts/browser-check.sh needs (Node.js >= 20, npm, Go, /usr/bin/chromium); it uses
# that check's locked playwright-core (signin.mjs lives beside it).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check_dir="$script_dir/browser-check"
repo_root="$(cd "$script_dir/.." && pwd)"
artifacts="${ARTIFACTS_DIR:-$repo_root/.ci/artifacts}/signin-check"

die() { printf 'sign-in check: %s\n' "$*" >&2; exit 1; }

source "$script_dir/check-lib.sh"
require_node
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium not found: install Debian's package chromium (or run scripts/browser-check.sh once as root)"
npm_install_locked

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
idp_port="$(free_port)"
app_port="$(free_port)"
idp_dir="$(mktemp -d "${TMPDIR:-/tmp}/agora-idp.XXXXXX")"
(cd "$repo_root" && go build -o "$idp_dir/idp" scripts/signin-check/idp.go) >"$idp_dir/build.log" 2>&1 || { cat "$idp_dir/build.log" >&2; die "building the provider failed"; }
"$idp_dir/idp" -provider "127.0.0.1:$idp_port" -app "127.0.0.1:$app_port" >"$idp_dir/idp.log" 2>&1 &
idp_pid=$!
stop_idp() { kill "$idp_pid" 2>/dev/null || true; wait "$idp_pid" 2>/dev/null || true; rm -rf "$idp_dir"; }

app="http://127.0.0.1:$app_port"
start_agora signin-check "${SIGNIN_CHECK_STARTUP_TIMEOUT:-60}" \
  AGORA_OIDC_PROVIDERS=local AGORA_OIDC_LOCAL_ISSUER="http://127.0.0.1:$idp_port/oidc" AGORA_OIDC_LOCAL_DISPLAY_NAME="Local IdP" \
  AGORA_OIDC_LOCAL_CLIENT_ID=agora-check AGORA_OIDC_LOCAL_CLIENT_SECRET=agora-check-secret \
  AGORA_SIGNIN_REDIRECT_URLS="$app/signed-in"
trap 'stop_idp; stop_agora' EXIT

rm -rf "$artifacts"
status=0
(cd "$repo_root" && node "$check_dir/signin.mjs" "$base" "$app" "$artifacts") || status=$?
if [ "$status" -ne 0 ]; then
  show_server_log
  cat "$idp_dir/idp.log" >&2
fi
exit "$status"
