# syntax=docker/dockerfile:1
# permit-service image: gunicorn serving the API as a non-root user.
#
#   docker build -t permit-service .
#   # release step, once per deploy and before the new web containers start (never at app start):
#   docker run --rm --env-file prod.env permit-service permit-service db upgrade
#   # web (JWT_SECRET_KEY and DATABASE_URL are required: PERMIT_ENV=production refuses the dev secret):
#   docker run -d --env-file prod.env -p 8000:8000 permit-service
#   # scheduler: exactly one per deployment, its own container, never inside the web workers:
#   docker run -d --env-file prod.env permit-service permit-service scheduler

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Dependencies first, from the hash-checked lock alone, so a code change does not reinstall them.
COPY requirements/runtime.lock ./requirements/
RUN pip install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md alembic.ini wsgi.py gunicorn.conf.py ./
COPY migrations ./migrations
COPY workflows ./workflows
COPY permit_service ./permit_service
# Installed in place (editable, at the same path as in the final stage): `permit-service db upgrade` finds
# alembic.ini and migrations/ beside the package.
RUN pip install --no-deps -e . && python -m compileall -q permit_service workflows migrations

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PERMIT_ENV=production \
    LISTEN_HOST=0.0.0.0 \
    PORT=8000
RUN groupadd --system --gid 10001 permit \
    && useradd --system --uid 10001 --gid permit --home-dir /app --no-create-home --shell /usr/sbin/nologin permit
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app
# The default SQLite database lives in instance/; production sets DATABASE_URL to PostgreSQL.
RUN mkdir -p /app/instance && chown permit:permit /app/instance
USER permit
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=4)"
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
