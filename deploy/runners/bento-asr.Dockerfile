# ting-bento-asr: the BentoML runner of ting-asr (`WhisperRunner` in services/asr/runners/bento/service.py), HTTP 3000
# (the API, /readyz, /livez, /metrics). Build from the repository root:
#   docker build -f deploy/runners/bento-asr.Dockerfile -t ting-bento-asr .
# Multi-stage like services/asr/Dockerfile: ting-asr and its dependencies from uv.lock before the code; BentoML
# pinned to the version in uv.lock (the workspace's dev group) with BENTOML_VERSION. Runs as a non-root user;
# nothing is downloaded at run time.
FROM python:3.11-slim AS build
ARG BENTOML_VERSION=1.4.40
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs/protos/pyproject.toml libs/protos/pyproject.toml
COPY libs/common/pyproject.toml libs/common/pyproject.toml
COPY libs/cli/pyproject.toml libs/cli/pyproject.toml
COPY services/asr/pyproject.toml services/asr/pyproject.toml
RUN uv sync --frozen --no-dev --no-install-workspace --package ting-asr \
 && uv pip install --python .venv/bin/python "bentoml==${BENTOML_VERSION}"
COPY libs libs
COPY services/asr services/asr
RUN uv sync --frozen --no-dev --inexact --package ting-asr --no-editable \
 && TING_ASR_CACHE_DIR=/opt/ting/models .venv/bin/python -m ting_asr.prepare

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home ting
COPY --from=build --chown=ting:ting /app/.venv /app/.venv
COPY --from=build --chown=ting:ting /opt/ting/models /opt/ting/models
WORKDIR /app
COPY --chown=ting:ting services/asr/runners/bento services/asr/runners/bento
ENV PATH=/app/.venv/bin:$PATH BENTOML_DO_NOT_TRACK=true BENTOML_HOME=/tmp/bentoml HOME=/tmp TING_ASR_CACHE_DIR=/opt/ting/models
USER 10001
EXPOSE 3000
CMD ["bentoml", "serve", "services/asr/runners/bento/service.py:WhisperRunner", "--host", "0.0.0.0", "--port", "3000"]
