#!/bin/bash
# The stand-in postgres image's entrypoint (see the Dockerfile): the official image's contract.
set -Eeuo pipefail

if [ "${1:-}" != postgres ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo 'postgres stand-in: the database is not initialised and POSTGRES_PASSWORD is not set' >&2
    exit 1
  fi
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  pwfile="$(mktemp)"
  printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  # Initialisation on the socket only (as the official image): no client can reach it half-made.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$user" --host /var/run/postgresql)
  if [ "$db" != postgres ]; then
    echo 'CREATE DATABASE :"db"' | "${psql[@]}" --dbname postgres --set db="$db" >/dev/null
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "postgres stand-in: running $f"; . "$f" ;;
      *.sql) echo "postgres stand-in: running $f"; "${psql[@]}" --dbname "$db" -f "$f" ;;
      *.sql.gz) echo "postgres stand-in: running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$db" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo 'postgres stand-in: initialised; starting'
fi

exec "$@"
