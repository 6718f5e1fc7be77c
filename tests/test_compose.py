"""The deployment: docker-compose.yml and the Dockerfile read as an operator's Docker would
(there is no Docker engine here), and the database roles they set up, run for real against
PostgreSQL: the init script, migrate as the owner, docker/grants.sql, then the app's role."""

import os
import re
import subprocess
import sys
import uuid
from datetime import time
from pathlib import Path

import pytest
import yaml

from privacy.ops import schedule

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def env(service: str) -> dict:
    return SERVICES[service].get("environment", {})


def mounts(service: str) -> dict:
    """Container path -> (source, options) of each volume of a service."""
    found = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target, *options = volume.split(":")
        found[target] = (source, options[0] if options else "rw")
    return found


def command(service: str) -> str:
    value = SERVICES[service].get("command", "")
    return value if isinstance(value, str) else " ".join(value)


def test_the_services():
    assert set(SERVICES) == {"db", "migrate", "app", "scheduler", "proxy"}
    for name in ("migrate", "app", "scheduler"):  # one image
        assert SERVICES[name]["build"] == "." and SERVICES[name]["image"] == "shiori:local"
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("app", "scheduler"):
        assert SERVICES[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert "run_scheduler" in command("scheduler")


def test_the_app_and_scheduler_connect_as_the_app_role_and_migrate_as_the_owner():
    app_url = "postgres://${SHIORI_DB_APP:-shiori_app}:${SHIORI_DB_APP_PASSWORD:?"
    owner_url = "postgres://${SHIORI_DB_OWNER:-shiori_owner}:${SHIORI_DB_OWNER_PASSWORD:?"
    assert env("app")["DATABASE_URL"].startswith(app_url)
    assert env("scheduler")["DATABASE_URL"].startswith(app_url)
    assert env("migrate")["DATABASE_URL"].startswith(owner_url)
    # env_file hands .env over whole: the owner's password is blanked where it must not be.
    for name in ("app", "scheduler", "migrate"):
        assert SERVICES[name]["env_file"] == ".env"
        assert env(name)["SHIORI_DB_OWNER_PASSWORD"] == ""
        assert env(name)["POSTGRES_PASSWORD"] == ""
    # Migrations and grants run in migrate only; the app's role could not run them.
    assert command("migrate") == "sh docker/migrate.sh"
    assert "migrate" not in command("app").replace("collectstatic", "")
    assert "COPY docker ./docker" in DOCKERFILE


def test_the_roles_init_script_is_mounted_into_the_db():
    assert mounts("db")["/docker-entrypoint-initdb.d"] == ("./docker/initdb", "ro")
    assert os.access(ROOT / "docker/initdb/10-shiori-roles.sh", os.X_OK)
    for name in ("SHIORI_DB_OWNER", "SHIORI_DB_OWNER_PASSWORD", "SHIORI_DB_APP"):
        assert name in env("db")
    # Healthy only once the real server listens (not the init scripts' socket-only one).
    assert "-h 127.0.0.1" in " ".join(SERVICES["db"]["healthcheck"]["test"])


def test_checkpoints_are_written_by_the_scheduler_and_read_only_in_the_app():
    path = env("app")["BOOKSHOP_AUDIT_CHECKPOINTS"]
    assert env("scheduler")["BOOKSHOP_AUDIT_CHECKPOINTS"] == path
    folder = str(Path(path).parent)
    assert mounts("scheduler")[folder] == ("checkpoints", "rw")
    assert mounts("app")[folder] == ("checkpoints", "ro")
    # Backups: the scheduler's alone.
    backups = env("scheduler")["BOOKSHOP_BACKUP_DIR"]
    assert mounts("scheduler")[backups] == ("backups", "rw")
    assert backups not in mounts("app")
    # The keyring: written by the scheduler's monthly rotation only.
    keyring = str(Path(env("app")["BOOKSHOP_KEYRING"]).parent)
    assert mounts("scheduler")[keyring] == ("./keyring", "rw")
    assert mounts("app")[keyring] == ("./keyring", "ro")


def test_the_image_has_the_postgresql_client_of_the_db_major_version():
    db_major = re.fullmatch(r"postgres:(\d+)(\.\d+)*(-\w+)?", SERVICES["db"]["image"]).group(1)
    client_major = re.search(r"^ARG PG_MAJOR=(\d+)$", DOCKERFILE, re.MULTILINE).group(1)
    assert client_major == db_major
    assert '"postgresql-client-${PG_MAJOR}"' in DOCKERFILE
    assert "https://apt.postgresql.org/pub/repos/apt" in DOCKERFILE
    # The release named in the apt line is the base image's.
    assert "FROM python:3.11-slim-bookworm" in DOCKERFILE
    assert "${VERSION_CODENAME}-pgdg" in DOCKERFILE


def test_gunicorn_uses_threads_so_a_long_download_outlives_the_worker_timeout():
    cmd = re.search(r"^CMD (\[.*?\])$", DOCKERFILE, re.MULTILINE | re.DOTALL).group(1)
    assert '"--worker-class", "gthread", "--threads", "4"' in cmd
    assert "--worker-class gthread --threads 4" in " ".join(command("app").split())


def test_the_schedule_holds_the_operations_the_readme_asks_for():
    jobs = {job.name: job for job in schedule.JOBS}
    steps = {name: job.steps for name, job in jobs.items()}
    assert steps["audit-checkpoint"] == (("audit_checkpoint",),)
    assert jobs["audit-checkpoint"].cadence == schedule.Hourly(0)
    assert steps["verify-audit-log"] == (("verify_audit_log",),)
    assert steps["expire-access"] == (("expire_access",),)
    assert steps["erasure-ledger"] == (("erasure", "ledger", "--repair"),)
    assert steps["backup"] == (
        ("backup",),
        ("backup", "--prune"),
        ("keys", "retire", "--unneeded"),
    )
    for name in ("verify-audit-log", "expire-access", "erasure-ledger", "backup"):
        assert isinstance(jobs[name].cadence, schedule.Daily)
        # At night, outside the default business hours (08:00-23:00).
        assert time(0, 0) <= jobs[name].cadence.at < time(8, 0)
    assert steps["retention-dry-run"] == (("retention", "--dry-run"),)
    assert steps["keys-rotate"] == (("keys", "rotate", "--if-due"),)
    assert isinstance(jobs["retention-dry-run"].cadence, schedule.Monthly)
    # Asked daily; the command rotates once the active key is BOOKSHOP_KEY_ROTATE_DAYS old.
    assert isinstance(jobs["keys-rotate"].cadence, schedule.Daily)
    assert steps["send-outbox"] == (("send_outbox",),)
    assert jobs["send-outbox"].cadence == schedule.EveryMinutes(1)


# --- The roles, on PostgreSQL --------------------------------------------------------------


def _server():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the roles test needs DATABASE_URL to point at PostgreSQL")
    return connection.settings_dict


def _connect(db, *, dbname, user):
    import psycopg

    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=user,
        password=db["PASSWORD"] if user == (db["USER"] or "postgres") else "pw-" + user,
        dbname=dbname,
        autocommit=True,
    )


def _url(db, *, user, name):
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}:pw-{user}@{host}:{port}/{name}"


def _run(args, environment, tmp_path):
    """A command as an operator runs it: production settings, its own DATABASE_URL."""
    from django.conf import settings

    full = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "bookshop.settings",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "BOOKSHOP_KEYRING": str(settings.BOOKSHOP_KEYRING),
        "BOOKSHOP_VAR_DIR": str(tmp_path),
        "BOOKSHOP_AUDIT_CHECKPOINTS": str(tmp_path / "checkpoints.jsonl"),
        "PYTHON": sys.executable,
        **environment,
    }
    done = subprocess.run(args, cwd=ROOT, env=full, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.django_db
def test_the_app_role_may_only_add_to_the_audit_log(tmp_path):
    from psycopg import errors

    db = _server()
    suffix = uuid.uuid4().hex[:8]
    name, owner, app = (
        f"shiori_roles_{suffix}",
        f"shiori_t_owner_{suffix}",
        f"shiori_t_app_{suffix}",
    )
    superuser = db["USER"] or "postgres"
    with _connect(db, dbname="postgres", user=superuser) as server:
        # As the postgres image does with POSTGRES_DB, before its init scripts.
        server.execute(f'CREATE DATABASE "{name}"')
    try:
        # 1. The init script, as the image runs it (here over TCP rather than its socket).
        roles = {
            "POSTGRES_USER": superuser,
            "POSTGRES_DB": name,
            "PGHOST": db["HOST"] or "127.0.0.1",
            "PGPORT": str(db["PORT"] or 5432),
            "SHIORI_DB_OWNER": owner,
            "SHIORI_DB_OWNER_PASSWORD": f"pw-{owner}",
            "SHIORI_DB_APP": app,
            "SHIORI_DB_APP_PASSWORD": f"pw-{app}",
        }
        if db["PASSWORD"]:
            roles["PGPASSWORD"] = db["PASSWORD"]
        _run(["sh", "docker/initdb/10-shiori-roles.sh"], roles, tmp_path)

        # 2. The compose file's migrate service: migrate as the owner, then docker/grants.sql.
        as_owner = {"DATABASE_URL": _url(db, user=owner, name=name), "SHIORI_DB_APP": app}
        _run(["sh", "docker/migrate.sh"], as_owner, tmp_path)

        # 3. The app's role runs the scheduler's work: a job recorded in the audit log (an
        # INSERT through the chain), a checkpoint, and the nightly backup (pg_dump).
        as_app = {"DATABASE_URL": _url(db, user=app, name=name)}
        manage = [sys.executable, "manage.py"]
        _run([*manage, "run_scheduler", "--run", "audit-checkpoint"], as_app, tmp_path)
        backup = tmp_path / "nightly.backup"
        _run([*manage, "backup", "--output", str(backup)], as_app, tmp_path)
        assert backup.stat().st_size > 0

        with _connect(db, dbname=name, user=app) as conn:
            (jobs,) = conn.execute(
                "SELECT count(*) FROM privacy_auditlogentry WHERE event = 'privacy.job.ran'"
            ).fetchone()
            assert jobs == 1
            # Normal writes work.
            conn.execute(
                "INSERT INTO django_session (session_key, session_data, expire_date) "
                "VALUES ('k', 'd', now())"
            )
            conn.execute("UPDATE django_session SET session_data = 'e' WHERE session_key = 'k'")
            conn.execute("DELETE FROM django_session WHERE session_key = 'k'")
            conn.execute("UPDATE privacy_scheduledjob SET last_ok = true")
            # The audit log: the database refuses by privilege, before any trigger.
            for statement in (
                "UPDATE privacy_auditlogentry SET event = 'x'",
                "DELETE FROM privacy_auditlogentry",
                "TRUNCATE privacy_auditlogentry",
                "ALTER TABLE privacy_auditlogentry DISABLE TRIGGER privacy_audit_no_change",
                "DROP TRIGGER privacy_audit_no_change ON privacy_auditlogentry",
                "CREATE TABLE mine (id int)",
            ):
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(statement)

        # 4. A later migration's new table: the app gets it through the default privileges.
        # A migration that rebuilt the log's table would give it the same: the next migrate
        # takes UPDATE and DELETE back.
        with _connect(db, dbname=name, user=owner) as conn:
            conn.execute("CREATE TABLE later_table (id bigint GENERATED BY DEFAULT AS IDENTITY)")
            conn.execute(f'GRANT UPDATE, DELETE, TRUNCATE ON privacy_auditlogentry TO "{app}"')
        with _connect(db, dbname=name, user=app) as conn:
            conn.execute("INSERT INTO later_table DEFAULT VALUES")
            conn.execute("DELETE FROM later_table")
        _run(["sh", "docker/migrate.sh"], as_owner, tmp_path)
        with _connect(db, dbname=name, user=app) as conn:
            for statement in (
                "UPDATE privacy_auditlogentry SET event = 'x'",
                "DELETE FROM privacy_auditlogentry",
                "TRUNCATE privacy_auditlogentry",
            ):
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(statement)
            conn.execute("SELECT count(*) FROM privacy_auditlogentry")
    finally:
        with _connect(db, dbname="postgres", user=superuser) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for role in (app, owner):
                server.execute(f'DROP ROLE IF EXISTS "{role}"')
