#!/usr/bin/env bash
# Set up autobuild from nothing and run the tests or the demo.
#
#   bash tools/bootstrap.sh test   # venv + wheel build (C++ core) + wheel smoke test + pytest
#   bash tools/bootstrap.sh demo   # venv + install + train on the embedded data + info + predict
#
# Environment: PYTHON (default python3), VENV (default .venv), TORCH_SPEC (default torch==2.14.1,
# the release this project is tested with), AUTOBUILD_DEMO_EPOCHS (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.14.1}

step() { printf '\n== %s\n' "$*"; }

step "virtual environment $VENV"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "$TORCH_SPEC"

step "build the wheel (compiles the C++ core with scikit-build-core)"
rm -rf dist
"$VENV/bin/python" -m pip install -q scikit-build-core pybind11
"$VENV/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w dist .
wheel=$(ls dist/autobuild-*.whl)
"$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$wheel"
"$VENV/bin/python" -m pip install -q "$wheel[ml,test]"

case "$mode" in
  test)
    step "wheel smoke test in a fresh venv (no torch)"
    rm -rf build/smoke-venv
    "$PY" -m venv build/smoke-venv
    build/smoke-venv/bin/python -m pip install -q "$wheel"
    (cd build && smoke-venv/bin/autobuild space ofa-mbv3 | grep -q "2.180e+19" \
      && smoke-venv/bin/python -c "import autobuild._core, autobuild.core as c; assert c.backend_name() == 'cpp'; print('wheel smoke test: ok (C++ core', c.backend_name() + ')')")
    step "tests"
    "$VENV/bin/python" -m pytest -q tests
    ;;
  demo)
    epochs=${AUTOBUILD_DEMO_EPOCHS:-200}
    step "train an accuracy predictor on the embedded ofa-mbv3 data ($epochs epochs)"
    "$VENV/bin/autobuild" train --space ofa-mbv3 --data builtin:ofa-mbv3 --target acc --epochs "$epochs" --out runs/demo-acc
    step "model report"
    "$VENV/bin/autobuild" info runs/demo-acc
    step "predict 1,000 fresh random archs with the ONNX export"
    "$VENV/bin/autobuild" sample --space ofa-mbv3 --n 1000 --seed 42 --out runs/demo-archs.csv
    "$VENV/bin/autobuild" predict runs/demo-acc --data runs/demo-archs.csv --out runs/demo-pred.csv
    head -3 runs/demo-pred.csv
    ;;
  *) echo "usage: bash tools/bootstrap.sh test|demo" >&2; exit 2 ;;
esac
