"""The paper's datasets in the community layouts, as camera-space sequences with their 2D.

Human3.6M, VideoPose3D layout (``kind = "h36m"``; docs/formats.md §4): ``path`` is
``data_3d_h36m.npz`` (``positions_3d``: subject -> action -> (F, 32, 3) world metres); the
2D comes from ``data_2d_h36m_<keypoints>.npz`` beside it (``options.keypoints``: ``gt``,
``cpn_ft_h36m_dbb`` ...; subject -> action -> four (F, 17, 2) pixel arrays, one per camera).
The 3D is moved into each camera's frame with the dataset's calibration
(``paper/h36m_cameras.json``), cut to the 17 joints, and matched to the 2D by length.

MPI-INF-3DHP, P-STMO layout (``kind = "3dhp"``): ``data_train_3dhp.npz`` or
``data_test_3dhp.npz``, read by ``training.data.read_3dhp_npz`` (camera-space 3D with its
2D); the test sequences' frame rate is ``options.test_fps`` (default 50).

Both yield dicts for :class:`training.pairs.CameraPairs` and the evaluation: ``pose_3d``
(F, J, 3) metres, ``pose_2d`` (F, J, 2) pixels, ``image_size``, ``fps``, ``subject``,
``action``, ``name``, ``valid``, joints on the requested skeleton (absent ones NaN).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.skeleton import convert_joints, get_skeleton

from .data.h36m import H36M32_TO_H36M17 as H36M_KEEP
from .data.h36m import H36M_FPS, action_name
from .run_config import DataSpec


@lru_cache(maxsize=1)
def h36m_cameras() -> dict:
    return json.loads((Path(__file__).with_name("paper") / "h36m_cameras.json").read_text(encoding="utf-8"))


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion (w, x, y, z)."""
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def h36m_world_to_camera(points: np.ndarray, subject: str, camera: int) -> np.ndarray:
    ext = h36m_cameras()["extrinsics"].get(subject)
    if not ext or not ext[camera]:
        raise ValueError(f"Human3.6M subject {subject!r} has no calibration (subjects with one: {sorted(h36m_cameras()['extrinsics'])})")
    r = quaternion_matrix(ext[camera]["orientation"])
    t = np.asarray(ext[camera]["translation"], np.float64) / 1000.0
    return (points - t) @ r  # R^T (X - t), row vectors


def h36m_project(cam3d: np.ndarray, camera: int) -> np.ndarray:
    """Pixels of camera-space points through camera ``camera``'s pinhole intrinsics (no
    lens distortion)."""
    cam = h36m_cameras()["cameras"][camera]
    return cam3d[..., :2] / cam3d[..., 2:3] * np.asarray(cam["focal_length"]) + np.asarray(cam["center"])


def write_h36m_layout(folder: str | Path, world: dict[str, dict[str, np.ndarray]], keypoints: str = "gt") -> Path:
    """Write motion in the VideoPose3D Human3.6M layout: ``world`` is subject -> action ->
    (F, 17, 3) Human3.6M-17 joints in metres, Human3.6M's world frame (Z up, the subject
    near the room's centre), at 50 fps; subjects need a calibration (S1, S5-S9, S11).
    Writes ``data_3d_h36m.npz`` (32-joint arrays, the 15 unused joints copies of the pelvis)
    and ``data_2d_h36m_<keypoints>.npz`` (each camera's exact projection) and returns the 3D
    file's path. For tests and benchmarks of the paper's path without the real dataset."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    positions, two_d = {}, {}
    for subject, actions in world.items():
        positions[subject], two_d[subject] = {}, {}
        for action, joints in actions.items():
            joints = np.asarray(joints, np.float64)
            full = np.repeat(joints[:, :1], 32, axis=1)
            full[:, H36M_KEEP] = joints
            positions[subject][action] = full.astype(np.float32)
            two_d[subject][action] = [
                h36m_project(h36m_world_to_camera(joints, subject, c), c).astype(np.float32)
                for c in range(len(h36m_cameras()["cameras"]))
            ]
    np.savez(folder / "data_3d_h36m.npz", positions_3d=positions)
    meta = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez(folder / f"data_2d_h36m_{keypoints}.npz", positions_2d=two_d, metadata=meta)
    return folder / "data_3d_h36m.npz"


def write_h36m_stand_in(folder: str | Path, clips, train_subjects: list[str], other_subjects: list[str], train_frames: int) -> Path:
    """A stand-in for Human3.6M of its size, for benchmarks without the dataset: motion
    clips (``MotionClip``, any skeleton) resampled to 50 fps, each moved to the room's
    centre, dealt in turn to the subjects as actions "Motion 1", "Motion 2" ... and
    repeated until the training subjects hold ``train_frames`` frames per camera between
    them (equal shares; a subject's last clip cut to fit); the other subjects get the
    length of the first four clips. Written by :func:`write_h36m_layout`."""
    h36m = get_skeleton("h36m17")
    moved = []
    for clip in clips:
        pos = convert_joints(clip.resampled(H36M_FPS).positions, get_skeleton(clip.skeleton), h36m)
        moved.append(np.nan_to_num(pos - np.append(np.nanmean(pos[:, 0, :2], 0), 0.0)))
    if not moved or not train_subjects:
        raise ValueError("a Human3.6M stand-in needs motion clips and at least one training subject")
    n = len(train_subjects)
    wanted = {s: train_frames // n + (i < train_frames % n) for i, s in enumerate(train_subjects)}
    wanted.update({s: sum(len(c) for c in moved[:4]) for s in other_subjects if s not in wanted})
    world: dict[str, dict[str, np.ndarray]] = {}
    k = 0
    for subject, want in wanted.items():
        world[subject], got = {}, 0
        while got < want:
            pos = moved[k % len(moved)][: want - got]
            world[subject][f"Motion {len(world[subject]) + 1}"] = pos
            got, k = got + len(pos), k + 1
    return write_h36m_layout(folder, world)


def _load_pickled(path: Path, key: str) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with np.load(path, allow_pickle=True) as z:
            return z[key].item()
    except (KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a file in the expected layout (no pickled {key!r} dict: {exc})") from None


def _wanted(subject: str, spec: DataSpec) -> bool:
    return (not spec.subjects or subject in spec.subjects) and subject not in spec.exclude_subjects


def _to_skeleton(values: np.ndarray, skeleton: str) -> np.ndarray:
    h36m = get_skeleton("h36m17")
    return values if skeleton == "h36m17" else convert_joints(values, h36m, get_skeleton(skeleton))


def load_h36m(spec: DataSpec, skeleton: str) -> list[dict]:
    path = Path(spec.path)
    keypoints = spec.options.get("keypoints", "gt")
    positions = _load_pickled(path, "positions_3d")
    two_d = _load_pickled(path.with_name(f"data_2d_h36m_{keypoints}.npz"), "positions_2d")
    cams = h36m_cameras()["cameras"]
    sequences = []
    for subject in sorted(positions):
        if not _wanted(subject, spec):
            continue
        for action in sorted(positions[subject]):
            if action not in two_d.get(subject, {}):
                continue
            world = np.asarray(positions[subject][action], np.float64)
            if world.shape[1] == 32:
                world = world[:, H36M_KEEP]
            for c, pts in enumerate(two_d[subject][action]):
                n = min(len(world), len(pts))
                cam3d = h36m_world_to_camera(world[:n], subject, c)
                sequences.append({
                    "pose_3d": _to_skeleton(cam3d, skeleton).astype(np.float32),
                    "pose_2d": _to_skeleton(np.asarray(pts[:n], np.float64), skeleton).astype(np.float32),
                    "image_size": (cams[c]["res_w"], cams[c]["res_h"]), "fps": H36M_FPS, "subject": subject,
                    "action": action_name(action), "name": f"{subject}/{action}/{cams[c]['id']}",
                })
    return sequences


def load_3dhp(spec: DataSpec, skeleton: str) -> list[dict]:
    from .data import read_3dhp_npz

    sequences = read_3dhp_npz(spec.path, skeleton, test_fps=float(spec.options.get("test_fps", 50.0)))
    return [seq.as_dict() for seq in sequences if _wanted(seq.subject, spec)]


def load_paper_sequences(spec: DataSpec, skeleton: str) -> list[dict]:
    loader = {"h36m": load_h36m, "3dhp": load_3dhp}.get(spec.kind)
    if loader is None:
        raise ValueError(f"{spec.path}: kind {spec.kind!r} is not a paper layout (h36m or 3dhp)")
    sequences = loader(spec, skeleton)
    if not sequences:
        raise ValueError(f"{spec.path}: no sequences for subjects={list(spec.subjects)} exclude={list(spec.exclude_subjects)}")
    return sequences
