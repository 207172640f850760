# Shared by the checks that run npm clients against a freshly built Agora (graphql-ws-check.sh,
# clients-check.sh, browser-check.sh). Source it after setting check_dir, repo_root and die().

# require_node: Node.js >= 20 with npm, or die.
require_node() {
  command -v node >/dev/null 2>&1 || die "node not found: install Node.js >= 20 with npm"
  command -v npm >/dev/null 2>&1 || die "npm not found: install npm"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "node $(node --version) is too old: the pinned packages need Node.js >= 20"
}

# npm_install_locked: the packages of $check_dir at their locked versions (npm ci), unless they are
# installed already.
npm_install_locked() {
  if (cd "$check_dir" && node -e '
    const want = require("./package.json").dependencies;
    for (const [name, version] of Object.entries(want)) {
      try {
        if (require(`./node_modules/${name}/package.json`).version !== version) process.exit(1);
      } catch { process.exit(1); }
    }') 2>/dev/null; then
    return
  fi
  local log
  log="$(mktemp)"
  if ! (cd "$check_dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "npm ci failed in $check_dir"
  fi
  rm -f "$log"
}

# start_agora NAME STARTUP_TIMEOUT [VAR=value...]: builds Agora into a temp dir, starts it on a free
# port with a throwaway SQLite database and the in-process bus (development settings, no .env, no
# AGORA_* from the caller's environment, but the VAR=value given), waits for /readyz, and stops it and removes the dir on exit. Sets
# tmp, server_pid and base (http://127.0.0.1:PORT).
start_agora() {
  command -v go >/dev/null 2>&1 || die "go not found: needed to build the server"
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/agora-$1.XXXXXX")"
  server_pid=""
  trap stop_agora EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  (cd "$repo_root" && go build -o "$tmp/agora" .) >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; die "go build failed"; }

  local port secret probe deadline
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  base="http://127.0.0.1:$port"
  secret="$(node -p 'require("crypto").randomBytes(32).toString("hex")')"
  local agora_env=(-u DATABASE_URL -u REDIS_URL) name
  while IFS='=' read -r name _; do
    case "$name" in AGORA_*) agora_env+=(-u "$name") ;; esac
  done < <(env)
  (cd "$tmp" && exec env "${agora_env[@]}" AGORA_ENV=development AGORA_SQLITE_PATH="$tmp/agora.db" PORT="$port" \
    AGORA_JWT_SECRET="$secret" AGORA_LOG_LEVEL=warn AGORA_PUBLIC_URL="$base" "${@:3}" "$tmp/agora") >"$tmp/server.log" 2>&1 &
  server_pid=$!

  probe='fetch(process.argv[1],{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))'
  deadline=$((SECONDS + $2))
  until node -e "$probe" "$base/readyz" 2>/dev/null; do
    kill -0 "$server_pid" 2>/dev/null || { show_server_log; die "the server exited at start-up"; }
    [ "$SECONDS" -lt "$deadline" ] || { show_server_log; die "the server did not answer $base/readyz in time"; }
    sleep 0.2
  done
}

stop_agora() {
  local rc=$?
  if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  rm -rf "${tmp:-}"
  exit "$rc"
}

show_server_log() {
  echo "----- server log -----" >&2
  cat "$tmp/server.log" >&2 || true
  echo "----- end of server log -----" >&2
}
