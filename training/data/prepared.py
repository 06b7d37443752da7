"""The prepared-data cache: many clips in one npz the trainer loads in one read.

Layout (``format`` = "mpm-prepared-motion", version 1):

* ``positions`` (N, J, 3) float32: every clip's frames concatenated, metres, world Z up,
  NaN = missing joint;
* ``offsets`` (C + 1,) int64: clip i is ``positions[offsets[i]:offsets[i + 1]]``;
* ``fps`` (C,) float64 (equal when prepared with ``--fps``);
* ``subjects``, ``clips``, ``sources``, ``actions`` (C,) str ("" = unknown action);
* ``skeleton`` str and ``joints`` (J,) str: the joint order;
* ``meta`` str: JSON with one object per clip (mapping, unit, rescale, dropped frames...)
  and ``info`` (how the file was made).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from engine.skeleton import get_skeleton

from .bvh import MotionFileError
from .motion import MotionClip

FORMAT = "mpm-prepared-motion"
VERSION = 1


def save_prepared(path: str | os.PathLike, clips: list[MotionClip], info: dict | None = None) -> Path:
    """Write clips (all on one skeleton) to ``path`` atomically."""
    if not clips:
        raise ValueError("no clips to save")
    skeletons = {c.skeleton for c in clips}
    if len(skeletons) != 1:
        raise ValueError(f"clips on several skeletons {sorted(skeletons)}: convert them to one first")
    skel = get_skeleton(clips[0].skeleton)
    lengths = [c.num_frames for c in clips]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(
            fh,
            format=np.array(FORMAT),
            version=np.array(VERSION),
            positions=np.concatenate([c.positions for c in clips]).astype(np.float32),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            fps=np.array([c.fps for c in clips], dtype=np.float64),
            subjects=np.array([c.subject for c in clips]),
            clips=np.array([c.clip for c in clips]),
            sources=np.array([c.source for c in clips]),
            actions=np.array([c.action or "" for c in clips]),
            skeleton=np.array(skel.name),
            joints=np.array(skel.joints),
            meta=np.array(json.dumps({"clips": [_jsonable(c.meta) for c in clips], "info": info or {}})),
        )
    os.replace(tmp, path)
    return path


def load_prepared(path: str | os.PathLike) -> list[MotionClip]:
    """Clips from a file written by :func:`save_prepared` (``python -m training.prepare``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise MotionFileError(f"cannot read prepared data {path}: {exc}") from None
    if str(data.get("format", "")) != FORMAT:
        raise MotionFileError(f"{path} is not a prepared motion file (no format {FORMAT!r}); make one with python -m training.prepare")
    if int(data["version"]) > VERSION:
        raise MotionFileError(f"{path} is prepared-data version {int(data['version'])}; this code reads up to {VERSION}")
    skel = get_skeleton(str(data["skeleton"]))
    if tuple(str(j) for j in data["joints"]) != skel.joints:
        raise MotionFileError(f"{path}: its joint order differs from the current {skel.name!r} skeleton")
    meta = json.loads(str(data["meta"]))["clips"]
    off = data["offsets"]
    return [
        MotionClip(
            positions=data["positions"][off[i] : off[i + 1]], fps=float(data["fps"][i]), subject=str(data["subjects"][i]),
            clip=str(data["clips"][i]), source=str(data["sources"][i]), action=str(data["actions"][i]) or None,
            skeleton=skel.name, meta=meta[i],
        )
        for i in range(len(off) - 1)
    ]


def _jsonable(meta: dict) -> dict:
    return {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v)) for k, v in meta.items()}
