#!/usr/bin/env bash
# Set up autobuild from nothing and run the tests or the demo.
#
#   bash tools/bootstrap.sh test   # venv + wheel build (C++ core) + wheel smoke test + pytest
#   bash tools/bootstrap.sh demo   # venv + install + the README walkthrough (train, score, build, search, report)
#
# Environment: PYTHON (default python3), VENV (default .venv), TORCH_SPEC (default torch==2.14.1,
# the release this project is tested with), TORCHVISION_SPEC (default torchvision==0.29.1, its match;
# the `ofa` package needs it), AUTOBUILD_DEMO_EPOCHS (default: sized to the data; e.g. 2 for a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
case "$mode" in test|demo) ;; *) echo "usage: bash tools/bootstrap.sh test|demo" >&2; exit 2 ;; esac
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.14.1}
TORCHVISION_SPEC=${TORCHVISION_SPEC:-torchvision==0.29.1}

step() { printf '\n== %s\n' "$*"; }
# pip, quiet, without the noise of this machine's unused local index locations.
pip_in() { local py=$1; shift; "$py" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location '" || true; }; }

step "virtual environment $VENV"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip_in "$VENV/bin/python" install -q --upgrade pip
pip_in "$VENV/bin/python" install -q "$TORCH_SPEC" "$TORCHVISION_SPEC"

step "build the wheel (compiles the C++ core with scikit-build-core)"
rm -rf dist
pip_in "$VENV/bin/python" install -q "scikit-build-core>=0.10" "pybind11>=2.12"
pip_in "$VENV/bin/python" wheel -q --no-deps --no-build-isolation -w dist .
wheel=$(ls dist/autobuild-*.whl)
pip_in "$VENV/bin/python" install -q --force-reinstall --no-deps "$wheel"
pip_in "$VENV/bin/python" install -q "$wheel[ml,nets,test]"

step "compile the Numba twins of the C++ core into Numba's cache"
"$VENV/bin/python" -m autobuild.cli.warm

step "optional: torchsort (reference soft rank, built CPU-only)"
# Its setup.py builds the CUDA extension whenever `nvcc` runs; hide every PATH entry holding one.
no_nvcc_path=$(printf '%s\n' "$PATH" | tr ':' '\n' | while IFS= read -r d; do [ -e "$d/nvcc" ] || printf '%s\n' "$d"; done | paste -sd:)
if "$VENV/bin/python" -c "import torchsort" 2>/dev/null; then
  echo "torchsort: already installed"
elif PATH=$no_nvcc_path CUDA_HOME='' FORCE_CUDA=0 "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation torchsort \
  2>&1 | { grep -v "^WARNING: Location '" || true; } && "$VENV/bin/python" -c "import torchsort" 2>/dev/null; then
  echo "torchsort: installed"
else
  echo "torchsort: not installed (in-house soft rank is used)"
fi

case "$mode" in
  test)
    step "wheel smoke test in a fresh venv (no torch)"
    rm -rf build/smoke-venv
    "$PY" -m venv build/smoke-venv
    pip_in build/smoke-venv/bin/python install -q "$wheel"
    (cd build && smoke-venv/bin/autobuild space ofa-mbv3 | grep -q "2.18e+19" \
      && smoke-venv/bin/autobuild sample --space ofa-pn --n 3 --out smoke.csv \
      && smoke-venv/bin/python -c "import autobuild._core, autobuild.core as c; assert c.backend_name() == 'cpp'; print('wheel smoke test: ok (C++ core', c.backend_name() + ')')")
    step "the package's layers (import-linter contract in pyproject.toml; imports inside functions count)"
    "$VENV/bin/lint-imports" --no-cache --config pyproject.toml
    step "tests"
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider -n auto --dist worksteal tests
    ;;
  demo)
    step "the README's five-minute walkthrough on the embedded data (tools/walkthrough.py; in runs/walkthrough)"
    "$VENV/bin/python" tools/walkthrough.py --workdir runs/walkthrough ${AUTOBUILD_DEMO_EPOCHS:+--epochs "$AUTOBUILD_DEMO_EPOCHS"}
    ;;
esac
