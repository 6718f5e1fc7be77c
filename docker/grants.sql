-- What the app's database role may do, run by the owner role after every `migrate`
-- (docker/migrate.sh; tests/test_compose.py runs the same file against PostgreSQL):
--   psql -v ON_ERROR_STOP=1 -v app_role=shiori_app -f docker/grants.sql
-- Idempotent: GRANT and REVOKE of what is already so change nothing.
--
-- The app reads and writes its tables, and may only ADD to the audit log: UPDATE, DELETE and
-- TRUNCATE on privacy_auditlogentry are refused to it by the database's privileges, on top of
-- the append-only triggers (privacy/audit/guard.py), which it cannot drop or disable because
-- it owns no table.

GRANT USAGE ON SCHEMA public TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
-- USAGE for nextval; SELECT because the nightly backup (pg_dump, run by the scheduler as this
-- role) reads each sequence's value.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";

-- Tables and sequences that later migrations create get the same, without waiting for this
-- file; the owner role runs it, so FOR ROLE is the owner (current_user).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app_role";

-- Last, and after every migrate: a migration that rebuilt the log's table would have given it
-- the default privileges above.
REVOKE ALL ON privacy_auditlogentry FROM :"app_role";
GRANT SELECT, INSERT ON privacy_auditlogentry TO :"app_role";
