"""The ``real2d`` protocol's data: Pose2Sim sessions (OpenPose BODY_25B detections per
camera, calibrated cameras, triangulated 3D in TRC files), read with ``training.data``.

For each single-person trial and each camera, the detections are the 2D input and the
triangulated 3D, moved into that camera's frame with the calibration, is the reference.
The 3D was triangulated from these same detections, so it checks consistency (the
protocol reports P-MPJPE), not accuracy against an independent ground truth. The
Butterworth-filtered TRC is used when present (less jitter in the reference).

The TRC's world (turned Z up by the reader) and the calibration's world differ by an
axis-aligned turn; it is found by re-projection: of the 24 axis-aligned rotations, the
one whose projected 3D lands nearest the detections (``meta["reprojection_px"]``).
"""
from __future__ import annotations

from itertools import permutations, product
from pathlib import Path

import numpy as np

from engine.skeleton import convert_joints, get_skeleton

from .data.cameras import read_pose2sim_calibration
from .data.pose2sim import BODY_25B, read_openpose_folder, read_pose2sim_trc, to_anim19
from .eval_views import EvalView

MIN_CONFIDENCE = 0.3


def detections_to_skeleton(keypoints: np.ndarray, skeleton: str) -> tuple[np.ndarray, np.ndarray]:
    """BODY_25B (F, 25, 3) x, y, score -> (points (F, J, 2), confidence (F, J))."""
    try:
        from engine.keypoints import to_skeleton
    except ImportError:  # the keypoints package is optional here: the same BODY_25B rules
        points = to_anim19(np.where(keypoints[..., 2:] > 0, keypoints[..., :2], np.nan), BODY_25B)
        confidence = np.nan_to_num(to_anim19(keypoints[..., 2:], BODY_25B)[..., 0])
        anim19 = get_skeleton("anim19")
        if skeleton != "anim19":
            points = convert_joints(points, anim19, get_skeleton(skeleton))
            confidence = convert_joints(confidence, anim19, get_skeleton(skeleton), axis=-1, fill=0.0)
        return points, confidence
    return to_skeleton(keypoints[..., :2], format="body25b", skeleton=skeleton, confidence=keypoints[..., 2])


def axis_rotations() -> list[np.ndarray]:
    """The 24 proper rotations that permute and flip the axes."""
    out = []
    for perm in permutations(range(3)):
        for signs in product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            if np.linalg.det(m) > 0:
                out.append(m)
    return out


def find_trials(root: Path) -> list[Path]:
    """Trial folders with one person's TRC and per-camera detections under ``root``."""
    trials = []
    for pose3d in sorted(Path(root).rglob("pose-3d")):
        trial = pose3d.parent
        raw = [p for p in pose3d.glob("*.trc") if "filt" not in p.name]
        if len(raw) == 1 and _detections(trial).is_dir():
            trials.append(trial)
    return trials


def _detections(trial: Path) -> Path:
    return trial / "pose-associated" if (trial / "pose-associated").is_dir() else trial / "pose"


def real2d_views(root: str | Path, skeleton: str, fps: float) -> list[EvalView]:
    """One view per (single-person trial, camera) of a Pose2Sim session folder."""
    root = Path(root)
    calib_files = sorted(root.rglob("Calib*.toml"))
    if not calib_files:
        raise FileNotFoundError(f"{root}: no Pose2Sim calibration (Calib*.toml) found")
    cams = read_pose2sim_calibration(calib_files[0])
    trials = find_trials(root)
    if not trials:
        raise FileNotFoundError(f"{root}: no single-person Pose2Sim trial (pose-3d/*.trc with pose/ detections)")
    skel = get_skeleton(skeleton)
    views = []
    for trial in trials:
        trcs = sorted((trial / "pose-3d").glob("*.trc"))
        trc = next((p for p in trcs if p.name.endswith("_filt_butterworth.trc")), next(p for p in trcs if "filt" not in p.name))
        clip = read_pose2sim_trc(trc, skeleton)
        per_cam = {}
        for key in cams:
            folder = next(iter(sorted(_detections(trial).glob(f"*{key.split('_')[-1]}*_json"))), None)
            if folder is not None:
                points, confidence = detections_to_skeleton(read_openpose_folder(folder), skeleton)
                n = min(len(points), clip.num_frames)
                per_cam[key] = (points[:n], confidence[:n])
        if not per_cam:
            continue
        best, best_err = np.eye(3), np.inf
        for rot in axis_rotations():
            errs = []
            for key, (points, confidence) in per_cam.items():
                px = cams[key].project(clip.positions[: len(points)] @ rot.T)
                ok = (confidence > MIN_CONFIDENCE) & np.isfinite(px).all(-1) & np.isfinite(points).all(-1)
                errs.append(np.linalg.norm(px - points, axis=-1)[ok])
            err = float(np.median(np.concatenate(errs))) if errs else np.inf
            if err < best_err:
                best, best_err = rot, err
        step = max(1, int(round(clip.fps / fps)))
        for key, (points, confidence) in per_cam.items():
            cam3d = cams[key].world_to_camera(clip.positions[: len(points)] @ best.T)[::step]
            views.append(
                EvalView(
                    name=f"{trial.name}/{key}", subject=trial.parent.name, action=None,
                    pose_3d=cam3d - cam3d[:, skel.root : skel.root + 1], points_px=points[::step], confidence=confidence[::step],
                    image_size=tuple(float(v) for v in cams[key].image_size),
                    meta={"trc": trc.name, "reprojection_px": round(best_err, 2)},
                    intrinsics=cams[key].intrinsics,
                )
            )
    return views
