# syntax=docker/dockerfile:1
# The image of media-service, built from the context `cargo xtask dist media-service` writes (its wheels,
# its runtime lock, install.py). Written once by dist from its template: the team's file from then
# on, never overwritten. dist prints the `docker build` command that builds it.

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.10-slim AS build
# The base image's Python 3.10 when it has one, else a uv-managed one in /opt/python.
ENV UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_NO_CACHE=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
COPY --from=uv /uv /usr/local/bin/uv
RUN uv venv --python 3.10 /opt/venv
# The install steps are install.py's, the same that `cargo xtask dist` checks on the builder's
# machine: the lock's pins hash-checked, then the local wheels without an index.
COPY requirements.txt install.py /context/
COPY wheels/ /context/wheels/
RUN /opt/venv/bin/python /context/install.py

FROM python:3.10-slim
RUN useradd --system --no-log-init --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt /opt
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# By uid, not by name: a name may not resolve where the image runs (hadolint's DL3066).
USER 10001
ENTRYPOINT ["media-service"]
