"""MPI-INF-3DHP in the community's npz layout (P-STMO; reused by MPM, PoseFormerV2, MotionAGFormer).

* training file: ``data`` = pickled dict "S<n> Seq<m>" -> [cameras, fps], cameras =
  {"0": {"data_2d": (F, 17, 2) px, "data_3d": (F, 17, 3) mm}, ...}, 2048 x 2048 images;
* test file: ``data`` = "TS1".."TS6" -> {"data_2d", "data_3d", "valid" (F,)}; TS1-TS4
  2048 x 2048, TS5-TS6 1920 x 1080. The test file stores no frame rate: ``test_fps``
  (default 50) is used.

3D is camera space (``univ_annot3``, mm -> metres). The 17 joints map to ``h36m17`` as
MotionAGFormer does (formats.md §1c): head_top -> head, neck -> thorax, head -> neck.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.skeleton import convert_joints, get_skeleton

from .bvh import MotionFileError
from .motion import CameraSequence
from .npzfile import load_npz, pickled_dict

MPI17_TO_H36M17 = [10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6, 0, 7, 9]
TRAIN_IMAGE_SIZE = (2048, 2048)
TEST_IMAGE_SIZE = {"TS1": (2048, 2048), "TS2": (2048, 2048), "TS3": (2048, 2048), "TS4": (2048, 2048),
                   "TS5": (1920, 1080), "TS6": (1920, 1080)}
DEFAULT_TEST_FPS = 50.0


def is_3dhp_npz(keys: set[str]) -> bool:
    return keys == {"data"}


def _to_h36m_order(values: np.ndarray, skeleton: str) -> np.ndarray:
    out = np.full(values.shape, np.nan, dtype=np.float32)
    out[:, MPI17_TO_H36M17] = values
    return convert_joints(out, get_skeleton("h36m17"), get_skeleton(skeleton))


def _sequence(path: Path, name: str, subject: str, camera: str, item: dict, fps: float, size, valid, skeleton: str):
    try:
        p2, p3 = np.asarray(item["data_2d"], np.float32), np.asarray(item["data_3d"], np.float32)
    except (KeyError, TypeError):
        raise MotionFileError(f"{path}: {name} lacks 'data_2d' / 'data_3d'") from None
    if p3.ndim != 3 or p3.shape[1:] != (17, 3) or p2.shape != p3.shape[:2] + (2,):
        raise MotionFileError(f"{path}: {name} has data_3d {p3.shape} / data_2d {p2.shape}, expected (F, 17, 3) / (F, 17, 2)")
    return CameraSequence(
        pose_3d=_to_h36m_order(p3 / 1000.0, skeleton), pose_2d=_to_h36m_order(p2, skeleton), image_size=size,
        fps=float(fps), subject=subject, name=name, source=str(path), camera=camera, valid=valid, skeleton=skeleton,
    )


def read_3dhp_npz(path: str | Path, skeleton: str = "anim19", test_fps: float = DEFAULT_TEST_FPS) -> list[CameraSequence]:
    """Every (sequence, camera) of a 3DHP training or test npz."""
    path = Path(path)
    data = pickled_dict(load_npz(path, allow_pickle=True), "data", path)
    out = []
    for key in sorted(data):
        value = data[key]
        if key in TEST_IMAGE_SIZE and isinstance(value, dict):
            valid = np.asarray(value.get("valid", np.ones(len(value["data_3d"]))), bool).reshape(-1)
            out.append(_sequence(path, key, key, "", value, test_fps, TEST_IMAGE_SIZE[key], valid, skeleton))
        elif isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], dict):
            cameras, fps = value
            subject = key.split()[0]
            for cam in sorted(cameras, key=lambda c: int(c) if str(c).isdigit() else str(c)):
                out.append(_sequence(path, f"{key} cam{cam}", subject, str(cam), cameras[cam], fps, TRAIN_IMAGE_SIZE, None, skeleton))
        else:
            raise MotionFileError(
                f"{path}: entry {key!r} is neither a test sequence (TS1..TS6 -> dict) nor a training sequence "
                "('S<n> Seq<m>' -> [cameras, fps])"
            )
    if not out:
        raise MotionFileError(f"{path}: no MPI-INF-3DHP sequences")
    return out
