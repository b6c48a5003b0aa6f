#!/usr/bin/env bash
# Install foretune and its dependencies into the current Python environment.
# CPU machines get the CPU build of PyTorch (small, fast to install) before the project, so the
# project's plain `torch` requirement is already satisfied; machines with an NVIDIA GPU (nvidia-smi
# present) or FORETUNE_TORCH=gpu skip that step and get PyPI's CUDA build by the usual route.
set -euo pipefail
cd "$(dirname "$0")"
if ! python -c "import torch" >/dev/null 2>&1; then
  if [ "${FORETUNE_TORCH:-auto}" != "gpu" ] && ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "setup: installing the CPU build of PyTorch"
    python -m pip install --quiet "torch==2.13.0" ${FORETUNE_TORCH_INDEX:+--index-url "$FORETUNE_TORCH_INDEX"}
  fi
fi
echo "setup: installing foretune and its dependencies"
python -m pip install --quiet -e ".[all,dev]"
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "setup: done ($(python -c 'import torch; print("torch", torch.__version__)'))"
