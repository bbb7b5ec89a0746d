# task-emulator as a container: a sidecar for CI and local development.
#
#   docker build -t task-emulator .
#   docker run --rm -p 8080:8080 -v "$PWD/my-scenarios:/scenarios:ro" task-emulator
#
# BASE_IMAGE is any Debian-like image with Python 3.11+ and its venv module: the public
# python:3.12-slim by default; the test suite passes a base it made itself, as it has no
# registry to pull from.
ARG BASE_IMAGE=python:3.12-slim

# --- build: a wheel from the source tree, nothing else ---------------------------------
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# A venv works alike on python:*-slim and on Debian's own python3 (whose system pip
# refuses to install outside a venv).
RUN python3 -m venv /opt/build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY emulator/ emulator/
COPY scenarios/ scenarios/
COPY schemas/ schemas/
RUN /opt/build/bin/pip wheel --no-deps --wheel-dir /dist .

# --- runtime: the wheel installed (not editable) into a venv, run as a non-root user ----
FROM ${BASE_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
COPY --from=build /dist/ /tmp/dist/
# The 'fast' extra: the compiled schema validator and uvloop (`serve --loop auto` uses it);
# 'redis': replicas sharing their tasks (TASK_EMULATOR_STORE=redis://…).
RUN python3 -m venv /opt/venv \
    && wheel="$(ls /tmp/dist/*.whl)" && /opt/venv/bin/pip install "${wheel}[fast,redis]" \
    && rm -rf /tmp/dist \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent emulator \
    && mkdir /scenarios

# Every `serve` option reads a TASK_EMULATOR_* variable; these are the container's
# defaults. Listen on all addresses so that the published port reaches the server, and
# load whatever is mounted at /scenarios (empty in the image) on top of the built-in ones.
ENV TASK_EMULATOR_HOST=0.0.0.0 \
    TASK_EMULATOR_PORT=8080 \
    TASK_EMULATOR_SCENARIOS=/scenarios

USER emulator
EXPOSE 8080
# The control API's health endpoint needs no token, even with TASK_EMULATOR_ADMIN_TOKEN
# set; the CLI checks it, so the image needs no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD task-emulator health --url "http://127.0.0.1:${TASK_EMULATOR_PORT:-8080}"
ENTRYPOINT ["task-emulator"]
CMD ["serve"]
