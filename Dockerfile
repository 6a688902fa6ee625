# Production image for the support agent (Flask app `app:app` under gunicorn).
#
#   docker build -t support-agent .
#   docker run -p 8000:8000 -e ANTHROPIC_API_KEY=... support-agent
#
# All configuration comes from the environment. The default SQLite database lives
# in /app/var (a volume); set DATABASE_URL to use another database.
# scripts/container-smoke builds and runs this image locally with podman.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# Package-index settings for the pip install below only (not kept in the image).
# Leave unset to use pip's defaults; scripts/container-smoke passes the host's.
ARG PIP_INDEX_URL=
ARG PIP_EXTRA_INDEX_URL=
ARG PIP_FIND_LINKS=
ARG PIP_TRUSTED_HOST=
ARG PIP_CERT=
ARG PIP_CONSTRAINT=
ARG PIP_DEFAULT_TIMEOUT=60

ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PORT=8000

# Dependencies first so this layer is reused while only the code changes.
COPY requirements.txt /tmp/requirements.txt
RUN set -eu; \
    for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_TRUSTED_HOST PIP_CERT PIP_CONSTRAINT; do \
        eval "[ -n \"\${$v:-}\" ] || unset $v"; \
    done; \
    python3 -m venv "$VIRTUAL_ENV"; \
    pip install --no-cache-dir -r /tmp/requirements.txt; \
    rm -f /tmp/requirements.txt

# HOME=/home/app is writable: gunicorn keeps its control socket under $HOME/.gunicorn.
# /tmp/prometheus: each gunicorn worker's metric files (prometheus_client's multiprocess mode,
# docs/observability.md), so GET /metrics sums every worker; gunicorn.conf.py empties it at start.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app \
 && mkdir -p /app/var /tmp/prometheus \
 && chown app:app /app/var /tmp/prometheus
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

WORKDIR /app
COPY scripts/docker-entrypoint /usr/local/bin/docker-entrypoint
# The code stays root-owned (read-only for the app user); only /app/var is writable.
# gunicorn.conf.py and alembic.ini are copied when present.
COPY app.py gunicorn.conf.py* alembic.ini* ./
COPY support/ ./support/
COPY slack/ ./slack/
RUN chmod 0755 /usr/local/bin/docker-entrypoint

VOLUME ["/app/var"]
USER app:app
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# Migrates the database, then execs gunicorn on 0.0.0.0:$PORT.
CMD ["docker-entrypoint"]
