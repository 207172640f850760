#!/usr/bin/env bash
# Installs what the test suite needs and is not part of Go: PostgreSQL server binaries (initdb,
# pg_ctl, postgres). Uses apt when running as root; otherwise says what to install.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_postgres; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries (initdb, pg_ctl, postgres) are missing." >&2
  echo "Install them (Debian/Ubuntu: sudo apt-get install postgresql), or point the tests at a server" >&2
  echo "that may create databases: AGORA_TEST_POSTGRES_URL=postgres://user:pass@host:5432/postgres" >&2
  exit 1
fi
echo "==> installing PostgreSQL server binaries (apt-get install postgresql)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
have_postgres || { echo "postgresql installed but initdb not found" >&2; exit 1; }
