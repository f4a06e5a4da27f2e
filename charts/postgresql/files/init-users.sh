#!/bin/bash
# First-boot bootstrap (docker-entrypoint-initdb.d): the users role and database. The password is read
# by psql itself from the mounted Secret, so it never appears in a process argument.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v db="$BOOTSTRAP_DATABASE" -v role="$BOOTSTRAP_USER" <<'SQL'
\set pw `cat "$USERS_PASSWORD_FILE"`
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"role";
SQL
