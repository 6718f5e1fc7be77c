# Shiori application image: gunicorn serving bookshop.wsgi on :8000, meant to sit behind a
# TLS-terminating proxy (see docker-compose.yml). Static files are served by the proxy.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOOKSHOP_VAR_DIR=/var/lib/shiori

# Fixed UID/GID: compose file secrets are bind mounts that keep the host file's owner and
# mode, so on the host `chown 10001:10001 secrets/*` (and the keyring must be chmod 600).
RUN groupadd --system --gid 10001 shiori \
 && useradd --system --uid 10001 --gid shiori --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin shiori \
 && install -d -o shiori -g shiori -m 0750 /var/lib/shiori \
 && install -d -o shiori -g shiori -m 0755 /var/lib/shiori/static

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

USER shiori

# collectstatic is exempt from the keyring check. The key below exists only for this RUN
# (not an ENV), so it is neither in the image config nor usable at run time.
RUN DJANGO_DEBUG=0 \
    DJANGO_SECRET_KEY=build-only-not-a-secret-collectstatic-needs-some-key-0123456789 \
    python manage.py collectstatic --noinput

EXPOSE 8000
CMD ["gunicorn", "bookshop.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
