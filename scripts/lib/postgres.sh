# Sourced by scripts/test: a throw-away PostgreSQL cluster on 127.0.0.1 for the test suite.
# pg_start exports FIVECHAINS_TEST_PG_URL; pg_stop removes the cluster it made.

_FC_PG_DIR=""
_FC_PG_BIN=""

_pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

_pg_fail() {
  if [ -n "${CI:-}" ]; then
    echo "PostgreSQL: $1" >&2
    return 1
  fi
  echo "warning: PostgreSQL: $1 — the PostgreSQL tests will be skipped" >&2
  return 0
}

pg_start() {
  [ -n "${FIVECHAINS_TEST_PG_URL:-}" ] && return 0
  _FC_PG_BIN=$(_pg_bin) || {
    echo "installing PostgreSQL (Debian package) …" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } >&2 || { _pg_fail "apt-get install postgresql failed"; return; }
    _FC_PG_BIN=$(_pg_bin) || { _pg_fail "no initdb after installing"; return; }
  }
  id postgres >/dev/null 2>&1 || { _pg_fail "no 'postgres' user to run the server as"; return; }
  _FC_PG_DIR=$(mktemp -d /tmp/fivechains-pg.XXXXXX)
  chown postgres: "$_FC_PG_DIR"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local as_pg=(runuser -u postgres --)
  [ "$(id -u)" = "$(id -u postgres)" ] && as_pg=()
  if ! "${as_pg[@]}" "$_FC_PG_BIN/initdb" -D "$_FC_PG_DIR/data" -A trust -U postgres --no-sync -E UTF8 >"$_FC_PG_DIR/initdb.log" 2>&1; then
    cat "$_FC_PG_DIR/initdb.log" >&2; rm -rf "$_FC_PG_DIR"; _FC_PG_DIR=""; _pg_fail "initdb failed"; return
  fi
  if ! "${as_pg[@]}" "$_FC_PG_BIN/pg_ctl" -D "$_FC_PG_DIR/data" -w -t 60 -l "$_FC_PG_DIR/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$_FC_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null; then
    cat "$_FC_PG_DIR/server.log" >&2; rm -rf "$_FC_PG_DIR"; _FC_PG_DIR=""; _pg_fail "the server did not start"; return
  fi
  "${as_pg[@]}" "$_FC_PG_BIN/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE fivechains_test" >/dev/null || { pg_stop; _pg_fail "could not create the test database"; return; }
  export FIVECHAINS_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/fivechains_test"
  echo "PostgreSQL test cluster on 127.0.0.1:$port ($_FC_PG_DIR)" >&2
}

pg_stop() {
  [ -n "$_FC_PG_DIR" ] || return 0
  local as_pg=(runuser -u postgres --)
  [ "$(id -u)" = "$(id -u postgres)" ] && as_pg=()
  "${as_pg[@]}" "$_FC_PG_BIN/pg_ctl" -D "$_FC_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$_FC_PG_DIR"
  _FC_PG_DIR=""
}
