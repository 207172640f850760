#!/usr/bin/env bash
# Client tools read schema/client.graphql (issue 17, item 3): graphql-js `buildSchema` must accept
# it and validate an operation against it, and relay-compiler must compile a small app's query,
# fragments, @connection pagination, @refetchable fragments (Node), a mutation and a subscription
# against it, without panicking. Runs scripts/client-schema-check/check.mjs in a throwaway
# directory; prints one line per tool and exits non-zero with the tool's output on a failure.
# `make check-generated` proves the committed file is what `agora schema -client` prints.
#
# Usage:
#   scripts/client-schema-check.sh                 # checks schema/client.graphql
#   scripts/client-schema-check.sh path/to/schema  # checks another SDL file
#
# Needs Node.js >= 20 with npm: the packages pinned in scripts/client-schema-check/package-lock.json
# (graphql, relay-compiler with its prebuilt binaries) are installed into
# scripts/client-schema-check/node_modules, git-ignored. No Go, server or network beyond npm.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check_dir="$script_dir/client-schema-check"
repo_root="$(cd "$script_dir/.." && pwd)"
schema="${1:-$repo_root/schema/client.graphql}"

die() { printf 'client schema check: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found: install Node.js >= 20 with npm"
command -v npm >/dev/null 2>&1 || die "npm not found: install npm"
[ -f "$schema" ] || die "$schema not found (go generate ./... writes schema/client.graphql)"

# --- the tools, at the locked versions (skipped when they are installed already) -----------------
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

work="$(mktemp -d "${TMPDIR:-/tmp}/agora-client-schema.XXXXXX")"
trap 'rm -rf "$work"' EXIT
node "$check_dir/check.mjs" "$schema" "$work"
echo "client schema check: OK ($(realpath --relative-to="$repo_root" "$schema" 2>/dev/null || echo "$schema"))"
