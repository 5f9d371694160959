#!/usr/bin/env bash
# Make a PostgreSQL server reachable at 127.0.0.1:5432 for the store tests (user postgres, trust auth,
# database "test"). Order: already up -> start the local cluster -> (root on Debian) install it.
# Never fatal: without a server the PostgreSQL tests skip, unless OLIGOMET_REQUIRE_PG is set (CI).
set -u
ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 -t 3; }
start_clusters() {
  for v in /etc/postgresql/*; do
    [ -d "$v/main" ] && pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start >/dev/null 2>&1
  done
  for _ in 1 2 3 4 5 6 7 8 9 10; do ready && return 0; sleep 1; done
  return 1
}
ready && exit 0
command -v pg_ctlcluster >/dev/null 2>&1 && start_clusters && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_postgres: installing Debian's postgresql" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1 || exit 0
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    # Local test server only: trust connections from the loopback address.
    grep -q "^host all all 127.0.0.1/32 trust" "$hba" || sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  done
  start_clusters || exit 0
  su postgres -c "psql -h 127.0.0.1 -tAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" 2>/dev/null | grep -q 1 \
    || su postgres -c "createdb -h 127.0.0.1 test" >/dev/null 2>&1
fi
ready || echo "ensure_postgres: no PostgreSQL server available; PostgreSQL tests will skip" >&2
exit 0
