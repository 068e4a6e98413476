# syntax=docker/dockerfile:1
# Scutum image: a builder stage installs the locked dependencies into a virtualenv; the final
# stage copies only that virtualenv onto a slim base and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/scutum
# Dependencies first (from the lock), so source edits do not invalidate this layer.
COPY pyproject.toml constraints.txt README.md ./
COPY actions ./actions
COPY risk ./risk
COPY approvals ./approvals
COPY agent ./agent
COPY console ./console
COPY simcluster ./simcluster
RUN /opt/scutum/bin/pip install --no-deps --requirement constraints.txt \
 && /opt/scutum/bin/pip install --no-deps . \
 && /opt/scutum/bin/pip check

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/scutum/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 scutum \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/scutum --no-create-home scutum \
 && mkdir -p /var/lib/scutum /etc/scutum \
 && chown 10001:10001 /var/lib/scutum
COPY --from=builder /opt/scutum /opt/scutum
WORKDIR /var/lib/scutum
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["scutum"]
CMD ["run"]
