#!/usr/bin/env bash
# Installs what the test suite needs and is not part of Go: PostgreSQL server binaries (initdb,
# pg_ctl, postgres), redis-server and stripe-mock. Uses apt when running as root; otherwise says what to install.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_redis() { command -v redis-server >/dev/null 2>&1; }

# stripe-mock (Stripe's API with fixed fixtures) for the payment tests: a Go program, built into
# GOBIN outside Agora's go.mod. internal/testenv builds it too when it is missing; this does it
# before the tests' clocks start.
gobin="$(go env GOBIN)"; gobin="${gobin:-$(go env GOPATH | cut -d: -f1)/bin}"
if ! go version -m "$gobin/stripe-mock" 2>/dev/null | grep -q 'stripe-mock[[:space:]]v0.203.0'; then
  echo "==> go install github.com/stripe/stripe-mock@v0.203.0"
  go install github.com/stripe/stripe-mock@v0.203.0
fi

missing=()
have_postgres || missing+=(postgresql)
have_redis || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "The tests need these servers' binaries: ${missing[*]}." >&2
  echo "Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}); for PostgreSQL you may instead" >&2
  echo "point the tests at a server that may create databases: AGORA_TEST_POSTGRES_URL=postgres://…/postgres" >&2
  exit 1
fi
echo "==> installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
have_postgres || { echo "postgresql installed but initdb not found" >&2; exit 1; }
have_redis || { echo "redis-server installed but not on PATH" >&2; exit 1; }
