# The Backchannel service: `backchannel serve` on port 8000.
# Dependencies come from requirements.lock (pinned), then the project itself with --no-deps.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BACKCHANNEL_LOG_FORMAT=json

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin backchannel

WORKDIR /app

# The lock first, so that a code change does not reinstall every dependency.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock

COPY pyproject.toml README.md ./
COPY domain ./domain
COPY infra ./infra
COPY service ./service
COPY seeds ./seeds
# Editable, so `backchannel seed` finds seeds/ beside the code.
# Compiled at build time: PYTHONDONTWRITEBYTECODE keeps the running service from writing
# bytecode, so without it every process would compile what it imports at each start.
RUN pip install --no-deps -e . \
    && python -m compileall -q /app/domain /app/infra /app/service \
    && mkdir -p /app/var \
    && chown backchannel:backchannel /app/var

USER backchannel
EXPOSE 8000
# No VOLUME: on PostgreSQL (docker-compose.yml) /app/var stays unused. Without
# BACKCHANNEL_DATABASE_URL the log is SQLite under /app/var: mount a volume there
# (`docker run -v backchannel-var:/app/var …`) to keep it.

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

CMD ["backchannel", "serve", "--host", "0.0.0.0", "--port", "8000"]
