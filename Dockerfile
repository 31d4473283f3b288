# The one image of biwoco: the API (default command), the Celery worker and beat.
#
#   docker build -t biwoco .                       # from the repository root
#   docker run -p 127.0.0.1:8000:8000 biwoco       # APP_ENV=prod by default: needs real secrets
#   docker run biwoco celery -A service.app.worker worker --loglevel=INFO
#   docker run biwoco celery -A service.app.worker beat --loglevel=INFO
#
# docker/docker-compose.yml runs the whole stack locally; docs/containers.md explains it.

# ---------------------------------------------------------------------------------------------
# builder: wheels of the `service` extra, pinned by constraints.txt, installed into a venv
FROM public.ecr.aws/docker/library/python:3.12-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /build
COPY pyproject.toml constraints.txt ./

# pyproject.toml is the one list of dependencies: read the `service` extra from it (not the
# project itself: the code is copied as source below, and infra/ stays out of the image).
RUN python -c "import tomllib; extra = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['service']; print('\n'.join(extra))" > requirements.txt \
    && pip wheel --wheel-dir /wheels --requirement requirements.txt --constraint constraints.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-index /wheels/*.whl \
    && /opt/venv/bin/pip uninstall --yes pip

# ---------------------------------------------------------------------------------------------
# runtime: the venv and the source, no compiler, no pip cache, no dev dependencies
FROM public.ecr.aws/docker/library/python:3.12-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PATH=/opt/venv/bin:$PATH \
    APP_ENV=prod \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=1

# A fixed numeric id, so `runAsNonRoot`-style checks can verify it without /etc/passwd.
# The root filesystem is read-only in ECS and in docker-compose; /tmp is the one writable
# path (beat's schedule, temp files of any library). Fargate creates a task volume root-owned
# with mode 0755 unless the image declares the path with VOLUME, in which case the volume
# starts as the image's directory: world-writable with the sticky bit, like any /tmp.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app \
    && chmod 1777 /tmp
VOLUME ["/tmp"]

WORKDIR /app

# Amazon DocumentDB's CA bundle (MONGODB_TLS_CA_FILE in dev and prod). Fetched at build time;
# no checksum pin: AWS adds certificate authorities to this file in place.
ADD --chmod=0444 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem \
    /app/certs/global-bundle.pem

COPY --from=builder /opt/venv /opt/venv
COPY --chown=root:root --chmod=0755 service/ /app/service/

USER 10001:10001
EXPOSE 8000

# Liveness only (no I/O); readiness (/healthz/ready) is the load balancer's business.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz/live\", timeout=4)"]

# One server process per container (WEB_CONCURRENCY=1); scale with more containers.
CMD ["python", "service/main.py"]
