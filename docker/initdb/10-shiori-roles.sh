#!/bin/sh
# The database's two roles, made once by the postgres image when its data volume is first
# initialised (mounted at /docker-entrypoint-initdb.d; the image runs it as POSTGRES_USER, the
# superuser, over the local socket):
#   SHIORI_DB_OWNER  owns the database and its tables: `migrate` runs as it (the compose
#                    file's one-shot `migrate` service), then docker/grants.sql.
#   SHIORI_DB_APP    what the app and the scheduler connect as: it reads and writes the
#                    tables, may only add to the audit log (docker/grants.sql), owns nothing,
#                    so it can neither drop nor disable the log's append-only triggers.
# Safe to run again by hand (`docker compose exec db /docker-entrypoint-initdb.d/10-shiori-roles.sh`):
# on a database made by an older compose file, where one superuser owned everything, it also
# hands the existing tables, sequences and functions to the owner role (run `migrate` after).
# Values reach SQL as psql variables (:'x' quotes a literal, :"x" an identifier), never
# pasted into the SQL text.
set -eu

: "${SHIORI_DB_OWNER:=shiori_owner}"
: "${SHIORI_DB_APP:=shiori_app}"
if [ -z "${SHIORI_DB_OWNER_PASSWORD:-}" ] || [ -z "${SHIORI_DB_APP_PASSWORD:-}" ]; then
  echo "10-shiori-roles.sh: set SHIORI_DB_OWNER_PASSWORD and SHIORI_DB_APP_PASSWORD" >&2
  exit 1
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
  --dbname "${POSTGRES_DB:-postgres}" \
  -v db="${POSTGRES_DB:-postgres}" \
  -v owner="$SHIORI_DB_OWNER" -v owner_password="$SHIORI_DB_OWNER_PASSWORD" \
  -v app="$SHIORI_DB_APP" -v app_password="$SHIORI_DB_APP_PASSWORD" <<'EOSQL'
SELECT format('CREATE ROLE %I', :'owner')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I', :'app')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
ALTER ROLE :"owner" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'owner_password';
ALTER ROLE :"app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'app_password';

ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"owner";
GRANT CONNECT ON DATABASE :"db" TO :"app";
-- The owner (not PUBLIC, not the app) creates tables: migrations.
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- A database an older compose file made: give what is there to the owner role.
SELECT format('ALTER TABLE public.%I OWNER TO %I', tablename, :'owner')
  FROM pg_tables WHERE schemaname = 'public' AND tableowner <> :'owner' \gexec
SELECT format('ALTER SEQUENCE public.%I OWNER TO %I', sequencename, :'owner')
  FROM pg_sequences WHERE schemaname = 'public' AND sequenceowner <> :'owner' \gexec
SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, :'owner')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> :'owner' \gexec
EOSQL
