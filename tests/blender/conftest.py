"""Fixtures for tests that run inside Blender (the bpy wheel).

Run through tests/test_in_blender.py, or directly with a bpy environment:
    .venv-bpy50/bin/python -m pytest tests/blender
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from importlib import import_module
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Keep Blender's user files out of the real home folder; must happen before bpy imports.
if "BLENDER_USER_RESOURCES" not in os.environ:
    _home = Path(tempfile.mkdtemp(prefix="mpm-blender-home-"))
    os.environ.update(HOME=str(_home), BLENDER_USER_RESOURCES=str(_home / "blender"))

import bpy  # noqa: E402
import addon_utils  # noqa: E402

EXTENSION_ID = "mpm_pose"
MODULE = f"bl_ext.user_default.{EXTENSION_ID}"


def _extension_zip(tmp_dir: Path) -> Path:
    if os.environ.get("MPM_EXTENSION_ZIP"):
        return Path(os.environ["MPM_EXTENSION_ZIP"])
    subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--platform", "linux-x64", "--out", str(tmp_dir)], check=True
    )
    return next(tmp_dir.glob(f"{EXTENSION_ID}-*.zip"))


@pytest.fixture(scope="session")
def extension(tmp_path_factory):
    """The extension zip installed and enabled through Blender's own installer."""
    zip_path = _extension_zip(tmp_path_factory.mktemp("dist"))
    result = bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True
    )
    assert result == {"FINISHED"}, f"installing {zip_path} returned {result}"
    loaded, enabled = addon_utils.check(MODULE)
    assert loaded and enabled, f"{MODULE} is not enabled after installation"
    return sys.modules[MODULE]


@pytest.fixture
def scene(extension):
    """An empty scene, the extension still enabled."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    return bpy.context.scene


class RecordingLayout:
    """Stand-in for ``UILayout`` that records what a draw function puts on screen."""

    def __init__(self, log: list | None = None) -> None:
        self.log = [] if log is None else log

    def __getattr__(self, name: str):
        if name in ("row", "column", "box", "split", "column_flow", "grid_flow", "panel"):
            return lambda *a, **k: RecordingLayout(self.log)
        def record(*args, **kwargs):
            self.log.append((name, args, kwargs))
            return RecordingLayout(self.log)

        return record

    def texts(self) -> list[str]:
        return [k.get("text", "") for _, _, k in self.log]


def ext(name: str):
    """A module of the installed extension, e.g. ``ext("engine.api")``."""
    return import_module(f"{MODULE}.{name}")


def report_errors(call) -> str:
    """Run an operator call expected to fail; return Blender's error report text."""
    with pytest.raises(RuntimeError) as info:
        call()
    return str(info.value)


@pytest.fixture
def bundled_model(extension) -> str:
    """The model the extension bundles (the tests' zip carries the tiny random model)."""
    stems = ext("preferences").bundled_models()
    if not stems:
        pytest.fail("the extension zip bundles no model: build it with `build.py --model STEM` (tests/test_in_blender.py does)")
    return stems[0]


@pytest.fixture
def preferences(extension):
    """The extension's preferences, restored after the test."""
    prefs = bpy.context.preferences.addons[MODULE].preferences
    saved = {name: getattr(prefs, name) for name in ("backend", "model_path", "default_mode", "min_confidence")}
    yield prefs
    for name, value in saved.items():
        setattr(prefs, name, value)
    ext("models").clear_cache()


@pytest.fixture
def shipped_model(preferences, request):
    """Use the repository's shipped (trained) model: model-quality checks need it, the tiny
    random model in the tests' zip cannot pass them. The checks an interim model is declared
    to fail (``failing_checks`` in assets/models/release.toml) are strict expected failures:
    they still run, and one that starts passing fails the suite until the list is updated."""
    stem = os.environ.get("MPM_SHIPPED_MODEL")
    if not stem:
        pytest.skip("no shipped model in assets/models yet: model-quality checks run once one is there")
    failing = {name for name in os.environ.get("MPM_SHIPPED_MODEL_FAILING", "").split(",") if name}
    if request.node.originalname in failing:
        request.applymarker(pytest.mark.xfail(reason="declared failing for the interim model (assets/models/release.toml)", strict=True))
    preferences.model_path = stem
    return stem
