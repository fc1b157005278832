# ting-bento-separate: the BentoML runner of ting-separate (`SeparatorRunner` in services/separate/runners/bento/service.py), HTTP 3000
# (the API, /readyz, /livez, /metrics). Build from the repository root:
#   docker build -f deploy/runners/bento-separate.Dockerfile -t ting-bento-separate .
# Multi-stage like services/separate/Dockerfile: ting-separate and its dependencies from uv.lock before the code; BentoML
# pinned to the version in uv.lock (the workspace's dev group) with BENTOML_VERSION. Runs as a non-root user;
# nothing is downloaded at run time.
FROM python:3.11-slim AS build
ARG BENTOML_VERSION=1.4.40
# espeak-ng voices the songs the learned separator is trained on (at build time only)
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng && rm -rf /var/lib/apt/lists/*
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs/protos/pyproject.toml libs/protos/pyproject.toml
COPY libs/common/pyproject.toml libs/common/pyproject.toml
COPY libs/cli/pyproject.toml libs/cli/pyproject.toml
COPY services/separate/pyproject.toml services/separate/pyproject.toml
RUN uv sync --frozen --no-dev --no-install-workspace --package ting-separate \
 && uv pip install --python .venv/bin/python "bentoml==${BENTOML_VERSION}"
COPY libs libs
COPY services/separate services/separate
RUN uv sync --frozen --no-dev --inexact --package ting-separate --no-editable \
 && .venv/bin/python -m ting_separate.learned.train

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home ting
COPY --from=build --chown=ting:ting /app/.venv /app/.venv
WORKDIR /app
COPY --chown=ting:ting services/separate/runners/bento services/separate/runners/bento
ENV PATH=/app/.venv/bin:$PATH BENTOML_DO_NOT_TRACK=true BENTOML_HOME=/tmp/bentoml HOME=/tmp
USER 10001
EXPOSE 3000
CMD ["bentoml", "serve", "services/separate/runners/bento/service.py:SeparatorRunner", "--host", "0.0.0.0", "--port", "3000"]
