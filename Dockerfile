# dfd's image: `dfd serve` (the API) and `dfd worker` (the queue worker), see compose.yaml.
#
# CPU (default): Python 3.11 slim, torch's CPU wheels (no CUDA libraries, a much smaller image)
#   docker build -t dfd .
# CUDA: a CUDA runtime base and torch's PyPI wheels, which bring their CUDA 13.0 libraries
# (the host needs a driver for CUDA 13 and the NVIDIA container toolkit)
#   docker build -t dfd:cuda --build-arg BASE=nvidia/cuda:13.0.1-runtime-ubuntu22.04 \
#       --build-arg TORCH_INDEX=https://pypi.org/simple .
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NO_ALBUMENTATIONS_UPDATE=1 \
    WANDB_MODE=offline \
    HF_HUB_OFFLINE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PATH=/opt/venv/bin:$PATH

# The wheels of PyAV, decord and OpenCV (headless) bring their own FFmpeg and codecs; OpenCV and
# torch want glib and OpenMP. A CUDA base (Ubuntu 22.04) gets Python 3.11 from its packages.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 \
    && if ! command -v python3.11 >/dev/null; then \
         apt-get install -y --no-install-recommends python3.11 python3.11-venv; fi \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv

WORKDIR /app
# Dependencies first (this layer is rebuilt only when pyproject.toml changes): torch and
# torchvision from TORCH_INDEX, then the rest of pyproject.toml's pinned dependencies and those
# of the serve extra (`dfd serve`, `dfd worker`).
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['serve']))" > /tmp/requirements.txt \
    && pip install --upgrade pip \
    && pip install --index-url "${TORCH_INDEX}" $(grep -E '^(torch|torchvision)==' /tmp/requirements.txt) \
    && pip install -r /tmp/requirements.txt

# dfd itself, as a wheel (with conf/ inside it, as dfd/conf) installed with the serve extra: the
# image holds no checkout, and dfd composes its configs from any folder.
COPY README.md setup.py ./
COPY conf ./conf
COPY hydra_plugins ./hydra_plugins
COPY dfd ./dfd
RUN pip wheel --no-deps -w /tmp/wheels . \
    && pip install "$(ls /tmp/wheels/dfd-*.whl)[serve]" \
    && rm -rf /tmp/wheels /app/* \
    && useradd --create-home --uid 1000 dfd \
    && mkdir -p /data/uploads && chown dfd:dfd /data/uploads /app

USER dfd
EXPOSE 8000
CMD ["dfd", "--help"]
