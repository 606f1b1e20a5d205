# chatops: the Slack app for maintenance windows, served by gunicorn on port 3000.
#
#   docker build -t chatops .
#   docker run --rm -p 3000:3000 --env-file .env -v chatops-data:/data \
#     -v "$PWD/regions.toml:/config/regions.toml:ro" -e CHATOPS_CONFIG=/config/regions.toml chatops
#
# Settings come from the environment (see the README). Without CHATOPS_DATABASE_URL the database is SQLite in
# the /data volume (one instance); compose.yaml runs two instances on PostgreSQL.

# -- build: a wheel of chatops, installed with its dependencies into a virtual environment --------------------
FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY chatops ./chatops
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install /wheels/chatops-*.whl \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# -- run: the virtual environment on a clean base, as an unprivileged user -------------------------------------
FROM python:3.11.14-slim-bookworm AS runtime

RUN groupadd --system --gid 10001 chatops \
 && useradd --system --uid 10001 --gid chatops --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin chatops \
 && mkdir -p /data /config \
 && chown chatops:chatops /data

COPY --from=builder /opt/venv /opt/venv

# MALLOC_ARENA_MAX: a serving worker runs about 25 threads and glibc gives threads that allocate at once arenas
# of their own (up to 8 per core); with two, a worker grew 1.4-1.8 times slower (docs/performance.md, Memory).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    CHATOPS_DATABASE_URL=sqlite:////data/chatops.db \
    CHATOPS_CALENDAR_CACHE=/data/calendars

WORKDIR /data
VOLUME /data
USER 10001:10001
EXPOSE 3000

# slim has no curl: ask /healthz with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status == 200 else 1)"]

# gunicorn stops gracefully on SIGTERM (in-flight requests finish; undelivered messages stay in the outbox).
STOPSIGNAL SIGTERM
CMD ["chatops", "serve", "--host", "0.0.0.0", "--port", "3000"]
