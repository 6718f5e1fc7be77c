#!/bin/sh
# The compose file's one-shot `migrate` service, as the database owner (DATABASE_URL names the
# owner role): apply the migrations, then what the app role may do (docker/grants.sql).
# `dbshell` runs psql with the connection Django has (host, user, password, sslmode).
set -eu
cd "$(dirname "$0")/.."
: "${SHIORI_DB_APP:=shiori_app}"
"${PYTHON:-python}" manage.py migrate --noinput
"${PYTHON:-python}" manage.py dbshell -- --no-psqlrc -q -v ON_ERROR_STOP=1 -v app_role="$SHIORI_DB_APP" \
  -f docker/grants.sql
echo "migrate: done; grants for $SHIORI_DB_APP applied."
