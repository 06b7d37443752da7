#!/usr/bin/env bash
# Make the project's virtual environments (idempotent; fast when already done):
#   .venv        engine, training, export, tests (torch 2.13.0 CPU)
#   .venv-bpy50  Blender 5.0.1 as a module (bpy wheel) + pytest
#   .venv-bpy42  Blender 4.2 LTS as a module + pytest
#   .venv-np2    the engine and training under numpy 2 (CI; skip with MPM_SKIP_NUMPY2=1)
# Uses pip (uv and poetry skip the local torch wheel and pull CUDA builds).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

make_venv() {  # make_venv DIR REQUIREMENTS
    local dir=$1 req=$2 stamp=$1/.requirements
    if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
        return 0
    fi
    echo "setting up $dir from $req"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
}

make_venv .venv tools/requirements.txt
if [ "${MPM_SKIP_NUMPY2:-0}" != "1" ]; then
    make_venv .venv-np2 tools/requirements-numpy2.txt
fi
if [ "${MPM_SKIP_BLENDER:-0}" != "1" ]; then
    make_venv .venv-bpy50 tools/requirements-blender50.txt
    make_venv .venv-bpy42 tools/requirements-blender42.txt
fi
