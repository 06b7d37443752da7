"""Runs tests/blender inside real Blender (the bpy wheels), once per supported version.

Each version runs in its own virtual environment holding only bpy (and pytest), with
HOME and BLENDER_USER_RESOURCES in a temporary folder; the extension zip built here by
build.py is installed there through Blender's own installer.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .blender_env import BLENDER_VENVS, REPO, run_in_blender, venv_python


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--platform", "linux-x64", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, f"build.py failed:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    (zip_path,) = out.glob("mpm_pose-*-linux_x64.zip")
    return str(zip_path)


@pytest.mark.parametrize("version", sorted(BLENDER_VENVS))
def test_blender_suite(version: str, extension_zip: str, tmp_path) -> None:
    if not venv_python(BLENDER_VENVS[version]).exists():
        message = f"no bpy environment for Blender {version} at {BLENDER_VENVS[version]}: run bash tools/setup.sh"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    result = run_in_blender(
        version,
        ["-m", "pytest", "tests/blender", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "pytest")],
        home=tmp_path,
        MPM_EXTENSION_ZIP=extension_zip,
        MPM_EXPECT_BLENDER=version,
    )
    print(result.stdout[-20000:], result.stderr[-5000:])
    assert result.returncode == 0, f"Blender {version} tests failed:\n{result.stdout[-8000:]}\n{result.stderr[-3000:]}"
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
