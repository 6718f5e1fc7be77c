# Shiori application image: gunicorn serving bookshop.wsgi on :8000, meant to sit behind a
# TLS-terminating proxy (see docker-compose.yml). Static files are served by the proxy. The
# same image runs the one-shot `migrate` service and the `scheduler` (run_scheduler).
# Debian bookworm named, not just "slim": the PostgreSQL apt line below names the release.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOOKSHOP_VAR_DIR=/var/lib/shiori

# PostgreSQL client tools for `backup` (pg_dump) and `restore`/docker/migrate.sh (psql), in
# the SAME MAJOR VERSION as the compose file's db image (postgres:16): pg_dump refuses to dump
# a server newer than itself, and bookworm's own postgresql-client is 15. So the client comes
# from the PostgreSQL project's apt repository (apt.postgresql.org), its signing key checked
# against the fingerprint the project publishes; the db image stays the project's postgres:16
# (rather than downgrading the server to match Debian's client). Change both together
# (tests/test_compose.py checks that they match).
ARG PG_MAJOR=16
ARG PGDG_KEY_FINGERPRINT=B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl gnupg; \
    install -d /usr/share/postgresql-common/pgdg; \
    key=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc; \
    curl -fsSL -o "$key" https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    gpg --show-keys --with-colons "$key" | grep -q "^fpr:::::::::${PGDG_KEY_FINGERPRINT}:"; \
    . /etc/os-release; \
    echo "deb [signed-by=$key] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"; \
    apt-get purge -y --auto-remove curl gnupg; \
    rm -rf /var/lib/apt/lists/*; \
    pg_dump --version | grep -q " ${PG_MAJOR}\."

# Fixed UID/GID: compose file secrets and the keyring folder are bind mounts that keep the
# host files' owner and mode, so on the host `chown -R 10001:10001 secrets keyring` (and the
# keyring must be chmod 600).
RUN groupadd --system --gid 10001 shiori \
 && useradd --system --uid 10001 --gid shiori --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin shiori \
 && install -d -o shiori -g shiori -m 0750 /var/lib/shiori \
 && install -d -o shiori -g shiori -m 0755 /var/lib/shiori/static \
 && install -d -o shiori -g shiori -m 0700 /var/lib/shiori/keyring \
      /var/lib/shiori/checkpoints /var/lib/shiori/backups
# (An empty named volume takes the owner and mode of the directory it is first mounted on:
# these make the compose file's checkpoints and backups volumes the app user's.)

WORKDIR /app

# Dependencies first so a code change does not reinstall them. pyproject.toml has
# `packages = []`: this installs the dependencies only, never the project itself.
COPY pyproject.toml ./
RUN pip install --no-cache-dir . && rm -rf build ./*.egg-info

# The source, listed one by one: there is no .dockerignore, and var/ holds a developer's
# keyring and database, which must never end up in an image layer.
COPY manage.py ./
COPY bookshop ./bookshop
COPY customers ./customers
COPY privacy ./privacy
COPY templates ./templates
# docker/migrate.sh and docker/grants.sql, for the `migrate` service.
COPY docker ./docker

USER shiori

# collectstatic is exempt from the keyring check. The key below exists only for this RUN
# (not an ENV), so it is neither in the image config nor usable at run time.
RUN DJANGO_DEBUG=0 \
    DJANGO_SECRET_KEY=build-only-not-a-secret-collectstatic-needs-some-key-0123456789 \
    python manage.py collectstatic --noinput

EXPOSE 8000
# gthread workers: gunicorn's 30 s --timeout kills a worker whose main loop has not reported
# in for that long. A sync worker is busy for the whole response, so a long streaming download
# (the audit log's CSV) would be killed half-way; in a gthread worker the responses run in
# threads and the main loop keeps reporting, so the timeout still catches a hung worker but
# not a long download. 3 workers x 4 threads; Shiori's request scope is a context variable
# per thread (privacy.core.context), so threads never share a request's keys or actor.
CMD ["gunicorn", "bookshop.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--worker-class", "gthread", "--threads", "4"]
