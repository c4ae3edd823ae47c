#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the workspace tests (Debian's `postgresql` package).
# Sourced by .ci/run; also usable by hand:  source .ci/postgres.sh  (then pytest; the server stops
# when the shell exits).  Exports QA_SCORER_TEST_PG=postgresql://postgres@127.0.0.1:PORT/postgres.
set -euo pipefail

if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || echo "warning: could not install postgresql; the PostgreSQL workspace tests will fail under CI=true"
  fi
fi
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -n "$PGBIN" ]; then
  PGPORT="${QA_SCORER_TEST_PG_PORT:-54329}"
  PGDATA="$(mktemp -d /tmp/qa-scorer-pg.XXXXXX)"
  as_pg=()
  if [ "$(id -u)" = "0" ]; then    # the server refuses to run as root
    chown postgres "$PGDATA"
    as_pg=(runuser -u postgres --)
  fi
  "${as_pg[@]}" "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres -E UTF8 --locale=C >/dev/null
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
      -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  export QA_SCORER_TEST_PG="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
  _qa_scorer_stop_pg() { "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PGDATA"; }
  trap _qa_scorer_stop_pg EXIT
  echo "PostgreSQL for the tests: $QA_SCORER_TEST_PG"
fi
set +e +u +o pipefail
