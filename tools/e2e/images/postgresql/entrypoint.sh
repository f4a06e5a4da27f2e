#!/bin/bash
# First boot: initdb with the superuser password from POSTGRES_PASSWORD_FILE (never an argument),
# scram-sha-256 for TCP clients, run /docker-entrypoint-initdb.d/*.sh|*.sql against a socket-only
# server, then serve on all addresses. Later boots only serve.
set -euo pipefail
: "${POSTGRES_USER:=postgres}" "${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE must name the password file}"
export POSTGRES_USER
socket_dir=/var/run/postgresql

first_boot() {
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$POSTGRES_PASSWORD_FILE" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8
  printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
  pg_ctl --pgdata="$PGDATA" --wait --options="-c listen_addresses='' -k $socket_dir" start
  local script
  for script in /docker-entrypoint-initdb.d/*; do
    case "$script" in
      *.sh) echo "e2e-postgres: running $script"; bash "$script" ;;
      *.sql) echo "e2e-postgres: running $script"; psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -f "$script" postgres ;;
      *) ;;
    esac
  done
  pg_ctl --pgdata="$PGDATA" --wait --mode=fast stop
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  first_boot
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories="$socket_dir"
