"""Locating and running the bpy virtual environments the Blender-side tests run in."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Blender version -> its virtual environment (made by tools/setup.sh): bpy, numpy<2 and
# pytest only, so a dependency the extension fails to bundle fails the tests.
BLENDER_VENVS = {"5.0": REPO / ".venv-bpy50", "4.2": REPO / ".venv-bpy42"}


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a Blender process whose user files all live under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BLENDER_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), BLENDER_USER_RESOURCES=str(home / "blender"), PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def run_in_blender(version: str, args: list[str], home: Path, timeout: float = 1200, **env: str) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` in the bpy environment of ``version`` from the repository root."""
    python = venv_python(BLENDER_VENVS[version])
    return subprocess.run(
        [str(python), *args],
        cwd=REPO,
        env=isolated_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
