#!/usr/bin/env bash
# minitorch against PyTorch on this machine; prints a Markdown table (see bench/compare.py).
#
#   bench/compare.sh --install          # first time: PyTorch (CPU), numpy and safetensors into bench/.venv
#   bench/compare.sh [--rounds N] [--epochs N] [--batches 64,128,256] [--cnn-epochs N] [--resnet-epochs N]
#
# PYTHON=/path/to/python uses another interpreter that has torch and numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--install" ]; then
    shift
    python3 -m venv bench/.venv
    # The PyPI wheel; it also brings CUDA libraries (several GB) that the CPU run does not use.
    bench/.venv/bin/pip install --quiet torch numpy safetensors
fi
python=${PYTHON:-bench/.venv/bin/python}
if ! "$python" -c "import torch, numpy" 2>/dev/null; then
    echo "error: $python has no torch/numpy; run bench/compare.sh --install (or set PYTHON)" >&2
    exit 1
fi
cargo build --release --example mnist_mlp --example latency
exec "$python" bench/compare.py "$@"
