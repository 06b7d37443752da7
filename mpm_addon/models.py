# SPDX-License-Identifier: GPL-3.0-or-later
"""Which model the operators run, and opening it once per session.

The model is the file set in the preferences (a ``.pt`` checkpoint or an ONNX model set),
else the one bundled in the extension's ``assets/models``. Opened backends are kept by
path, backend choice and file time, so the second lift of a session does not pay for
opening ONNX Runtime sessions again.
"""
from __future__ import annotations

import os
from pathlib import Path

import bpy

from .engine.api import load_backend
from .engine.backends import Backend
from .preferences import BUNDLED_MODEL_DIR, bundled_models, get_preferences

BACKENDS = {"AUTO": "auto", "ONNXRUNTIME": "onnxruntime", "TORCH": "torch"}
# Errors the engine raises for a model it cannot use (all name the file and the problem).
MODEL_ERRORS = (ValueError, OSError, ImportError)

_cache: dict[tuple, Backend] = {}


class ModelError(Exception):
    """No usable model: the message says which file and what to do."""


def model_path(context: bpy.types.Context | None = None) -> Path:
    """The model file or ONNX set the operators use."""
    prefs = get_preferences(context)
    if prefs.model_path:
        path = Path(bpy.path.abspath(prefs.model_path))
        stem_files = list(path.parent.glob(path.name + ".*.onnx")) if not path.exists() else []
        if not path.exists() and not stem_files:
            raise ModelError(
                f"model file {path} does not exist: choose a .pt checkpoint or an ONNX model set "
                "in Preferences > Add-ons > MPM Pose, or clear it to use the bundled model"
            )
        return path
    if not bundled_models():
        raise ModelError(
            "no model: this build of the extension bundles none; set a model file "
            "(.pt checkpoint or ONNX model set) in Preferences > Add-ons > MPM Pose"
        )
    return BUNDLED_MODEL_DIR / bundled_models()[0]


def model_choice(context: bpy.types.Context | None = None) -> tuple[Path, str]:
    """(model path, engine backend name) from the preferences; :class:`ModelError` when missing."""
    return model_path(context), BACKENDS[get_preferences(context).backend]


def open_backend(path: Path, backend: str) -> Backend:
    """The opened model (cached; no bpy, so a worker thread may call it);
    :class:`ModelError` when it is unusable."""
    key = (str(path), backend, _mtime(path))
    if key not in _cache:
        try:
            _cache[key] = load_backend(path, backend=backend)
        except MODEL_ERRORS as exc:
            raise ModelError(f"cannot use the model {path}: {exc}") from None
    return _cache[key]


def clear_cache() -> None:
    _cache.clear()


def _mtime(path: Path) -> float:
    files = [path] if path.exists() else list(path.parent.glob(path.name + ".*.onnx"))
    return max((os.path.getmtime(f) for f in files if f.exists()), default=0.0)
