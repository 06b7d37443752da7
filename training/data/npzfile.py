"""Opening .npz files with errors that name the file (shared by the npz readers)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .bvh import MotionFileError


def load_npz(path: Path, allow_pickle: bool = False) -> dict:
    """All arrays of an npz file. ``allow_pickle`` only for the community layouts that
    store pickled dicts (VideoPose3D, P-STMO): open those only from sources you trust."""
    try:
        with np.load(path, allow_pickle=allow_pickle) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise MotionFileError(f"cannot read npz file {path}: {exc}") from None


def pickled_dict(data: dict, key: str, path: Path) -> dict:
    """``data[key]`` holding a pickled dict (``np.savez(..., key=dict)``) as a dict."""
    try:
        value = data[key].item()
    except (KeyError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise MotionFileError(f"{path}: '{key}' should hold a dict (saved with np.savez), got {type(value).__name__}")
    return value
