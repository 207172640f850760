#!/usr/bin/env bash
# Rebuilds the GraphiQL page Agora embeds (graph/server/graphiql/) from the npm packages pinned in
# scripts/graphiql/package-lock.json: graphiql, @graphiql/react, @graphiql/toolkit, graphql-ws,
# graphql, react and react-dom, bundled by esbuild (scripts/graphiql/build.mjs) into one JS file,
# one CSS file, Monaco's web workers and its icon font, with content hashes in their names.
# The output is deterministic: the same lockfile and sources give the same bytes.
#
# Usage:
#   scripts/graphiql.sh          # install the locked packages (when needed) and rebuild
#   scripts/graphiql.sh --check  # rebuild into a temporary folder and fail if it differs from the
#                                # committed bundle
#
# Needs Node.js >= 20 with npm (the packages are installed into scripts/graphiql/node_modules,
# git-ignored). Commit graph/server/graphiql/ after a rebuild; Go needs no Node.js to build Agora.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="$script_dir/graphiql"
repo_root="$(cd "$script_dir/.." && pwd)"
out="$repo_root/graph/server/graphiql"

die() { printf 'graphiql: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found: install Node.js >= 20 with npm"
command -v npm >/dev/null 2>&1 || die "npm not found: install npm"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "node $(node --version) is too old: Node.js >= 20 is needed"

# --- the packages, at the locked versions (skipped when they are installed already) ---------------
installed() {
  (cd "$build_dir" && node -e '
    const lock = require("./package-lock.json").packages;
    for (const [where, entry] of Object.entries(lock)) {
      if (!where.startsWith("node_modules/") || entry.optional) continue;
      try {
        if (require(`./${where}/package.json`).version !== entry.version) process.exit(1);
      } catch { process.exit(1); }
    }') 2>/dev/null
}
if ! installed; then
  npm_log="$(mktemp)"
  if ! (cd "$build_dir" && npm ci --no-audit --no-fund --loglevel=error) >"$npm_log" 2>&1; then
    cat "$npm_log" >&2
    rm -f "$npm_log"
    die "npm ci failed in $build_dir"
  fi
  rm -f "$npm_log"
fi

if [ "${1:-}" = "--check" ]; then
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/agora-graphiql.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  node "$build_dir/build.mjs" "$tmp" >/dev/null
  if ! diff -r -q -x '*.go' "$out" "$tmp" >&2; then
    die "graph/server/graphiql/ is not what scripts/graphiql/ builds: run make graphiql and commit"
  fi
  echo "graphiql bundle: up to date"
  exit 0
fi

node "$build_dir/build.mjs" "$out"
