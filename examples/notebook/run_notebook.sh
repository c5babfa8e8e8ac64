#!/usr/bin/env bash
# Runs MiniTorchWorkshop.ipynb from start to end, headless, on the Rust Jupyter kernel, writes
# its outputs into it, and checks the final test accuracy. Fails if any cell fails (but the one
# tagged `raises-exception`, which shows a compile error on purpose).
#
# A fresh machine needs cargo and Python 3 only: this installs evcxr_jupyter from crates.io
# (`--locked`: without it a newer dependency does not compile; 10–20 min to build, once) and
# Jupyter from PyPI into examples/notebook/.venv.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v evcxr_jupyter >/dev/null; then
    cargo install --locked evcxr_jupyter
fi
if [ ! -x .venv/bin/jupyter ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet jupyter nbconvert
fi
evcxr_jupyter --install >/dev/null   # registers the `rust` kernel for this user
# The kernel adds rustup's `rust-src` component when it is missing. With it, rustc quotes the
# standard library's source in its messages, and one trybuild snapshot
# (tests/ui/fail/hand_wired_geometry.stderr, made as CI runs, without it) no longer matches: so
# the component goes again afterwards if this script is what added it.
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
    trap 'rustup component remove rust-src >/dev/null 2>&1 || true' EXIT
fi
start=$(date +%s)
.venv/bin/jupyter nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.kernel_name=rust MiniTorchWorkshop.ipynb
.venv/bin/python - <<'PYTHON'
import json, re, sys
notebook = json.load(open("MiniTorchWorkshop.ipynb"))
texts = ["".join(output.get("text", "")) for cell in notebook["cells"] for output in cell.get("outputs", [])]
found = [float(m) for text in texts for m in re.findall(r"final_test_accuracy=([0-9.]+)", text)]
if not found or found[-1] < 0.98:
    sys.exit(f"the notebook's final test accuracy is {found[-1] if found else 'missing'}; expected at least 0.98")
images = sum("image/svg+xml" in output.get("data", {}) for cell in notebook["cells"] for output in cell.get("outputs", []))
print(f"final test accuracy {found[-1]:.4}; {images} pictures")
PYTHON
echo "ran in $(( $(date +%s) - start )) s"
