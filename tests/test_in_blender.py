"""Runs tests/blender inside real Blender (the bpy wheels), once per supported version.

Each version runs in its own virtual environment holding only bpy (and pytest), with
HOME and BLENDER_USER_RESOURCES in a temporary folder; the extension zip built here by
build.py is installed there through Blender's own installer. The zip bundles the tiny
random-weight model (exported here to an ONNX model set), so the Blender tests never wait
for the shipped model; model-quality tests use the shipped model when assets/models has one.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .blender_env import BLENDER_VENVS, REPO, run_in_blender, venv_python

# What the exported tiny model depends on: a change to any of these exports it again.
MODEL_SOURCES = ("engine/model.py", "engine/config.py", "engine/data/model_presets.toml", "engine/onnx_export.py",
                 "engine/backends.py", "engine/data/skeletons.json")


@pytest.fixture(scope="session")
def tiny_onnx_model() -> Path:
    """The tiny random-weight model as an ONNX model set (cached in build/ by source hash)."""
    digest = hashlib.sha256(b"".join((REPO / f).read_bytes() for f in MODEL_SOURCES)).hexdigest()[:12]
    stem = REPO / "build" / "test-models" / digest / "tiny"
    if not list(stem.parent.glob("tiny.*.onnx")):
        import torch
        from engine.config import MPMConfig
        from engine.model import MPM
        from engine.onnx_export import export_onnx

        torch.manual_seed(0)
        export_onnx(MPM(MPMConfig.preset("tiny")).eval(), stem)
    return stem


def shipped_model() -> str | None:
    """Stem of the shipped ONNX model set in assets/models, if there is one."""
    sets = sorted((REPO / "assets" / "models").glob("*.lift_full.onnx"))
    return str(sets[0]).removesuffix(".lift_full.onnx") if sets else None


def shipped_model_failing_checks() -> list[str]:
    """The model-quality checks (test names) the shipped model is declared to fail
    (``failing_checks`` of an ``interim`` model in assets/models/release.toml); they run as
    strict expected failures. A ``release`` model declares none."""
    release = REPO / "assets" / "models" / "release.toml"
    if not release.exists():
        return []
    declared = tomllib.loads(release.read_text())
    if declared["status"] == "release":
        assert not declared.get("failing_checks"), "a release model cannot declare failing checks"
        return []
    assert declared["status"] == "interim", f"release.toml: unknown status {declared['status']!r}"
    return list(declared.get("failing_checks", []))


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory, tiny_onnx_model) -> str:
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--platform", "linux-x64", "--model", str(tiny_onnx_model),
         "--out", str(out)],
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
        **({"MPM_SHIPPED_MODEL": shipped_model(), "MPM_SHIPPED_MODEL_FAILING": ",".join(shipped_model_failing_checks())}
           if shipped_model() else {}),
    )
    print(result.stdout[-20000:], result.stderr[-5000:])
    assert result.returncode == 0, f"Blender {version} tests failed:\n{result.stdout[-8000:]}\n{result.stderr[-3000:]}"
    # Blender's own output may follow pytest's summary line: find the summary itself.
    lines = result.stdout.strip().splitlines()
    summary = next((line for line in reversed(lines) if re.search(r"\d+ (passed|failed|errors?)\b", line)), "")
    assert " passed" in summary and not re.search(r"\d+ (failed|errors?)\b", summary), summary
