"""The ``real2d`` protocol's data: Pose2Sim sessions (OpenPose BODY_25B detections per
camera, calibrated cameras, triangulated 3D in TRC files).

For each single-person trial and each camera, the detections are the 2D input and the
triangulated 3D, moved into that camera's frame with the calibration, is the reference.
The 3D was triangulated from these same detections, so it checks consistency (the
protocol reports P-MPJPE), not accuracy against an independent ground truth. The
Butterworth-filtered TRC is used when present (less jitter in the reference).

TRC files are Y up while the calibration's world is not; the axis turn between them is
found by re-projection: of the 24 axis-aligned rotations, the one whose projected 3D
lands nearest the detections (reported in ``meta["reprojection_px"]``).
"""
from __future__ import annotations

import json
import tomllib
from itertools import permutations, product
from pathlib import Path

import numpy as np

from engine.skeleton import get_skeleton

from .eval_views import EvalView

# BODY_25B keypoint order (docs/formats.md §1a) and the TRC marker names Pose2Sim gives them.
BODY_25B = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "upper_neck", "head_top", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel",
)
TRC_NAMES = {
    "RHip": "right_hip", "RKnee": "right_knee", "RAnkle": "right_ankle", "RBigToe": "right_big_toe",
    "RSmallToe": "right_small_toe", "RHeel": "right_heel", "LHip": "left_hip", "LKnee": "left_knee",
    "LAnkle": "left_ankle", "LBigToe": "left_big_toe", "LSmallToe": "left_small_toe", "LHeel": "left_heel",
    "Neck": "upper_neck", "Head": "head_top", "Nose": "nose", "RShoulder": "right_shoulder", "RElbow": "right_elbow",
    "RWrist": "right_wrist", "LShoulder": "left_shoulder", "LElbow": "left_elbow", "LWrist": "left_wrist",
}
# LOCAL STAND-IN, to be replaced by engine.keypoints.to_skeleton once the keypoints package
# is merged: the same BODY_25B -> canonical joint rules (means of named keypoints).
_JOINT_RULES = {
    "pelvis": ("left_hip", "right_hip"), "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
    "thorax": ("left_shoulder", "right_shoulder"), "neck": ("nose",), "head": ("head_top",),
    "right_toe": ("right_big_toe", "right_small_toe"), "left_toe": ("left_big_toe", "left_small_toe"),
}


def named_to_skeleton(points: np.ndarray, names: tuple[str, ...], skeleton: str) -> np.ndarray:
    """(F, K, C) named keypoints -> (F, J, C) canonical joints (NaN where absent)."""
    skel = get_skeleton(skeleton)
    index = {n: i for i, n in enumerate(names)}
    out = np.full(points.shape[:-2] + (skel.num_joints, points.shape[-1]), np.nan)
    for j, joint in enumerate(skel.joints):
        sources = _JOINT_RULES.get(joint, (joint,))
        if all(s in index for s in sources):
            out[..., j, :] = np.mean([points[..., index[s], :] for s in sources], axis=0)
    return out


def detections_to_skeleton(points: np.ndarray, confidence: np.ndarray, skeleton: str) -> tuple[np.ndarray, np.ndarray]:
    """BODY_25B (F, 25, 2) pixels + confidence -> canonical joints and confidence."""
    try:
        from engine.keypoints import to_skeleton
    except ImportError:
        pts = np.where(confidence[..., None] > 0, points, np.nan)
        joints = named_to_skeleton(pts, BODY_25B, skeleton)
        conf = named_to_skeleton(np.where(confidence > 0, confidence, np.nan)[..., None], BODY_25B, skeleton)[..., 0]
        return joints, np.nan_to_num(conf)
    return to_skeleton(points, format="body25b", skeleton=skeleton, confidence=confidence)


def rodrigues(vector: np.ndarray) -> np.ndarray:
    """OpenCV rotation vector -> 3x3 matrix."""
    v = np.asarray(vector, np.float64)
    angle = np.linalg.norm(v)
    if angle < 1e-12:
        return np.eye(3)
    k = v / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def read_calibration(path: Path) -> dict[str, dict]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    cams = {}
    for key, c in data.items():
        if not isinstance(c, dict) or "matrix" not in c:
            continue
        cams[key] = {
            "K": np.asarray(c["matrix"], np.float64), "R": rodrigues(c["rotation"]),
            "t": np.asarray(c["translation"], np.float64), "size": tuple(float(v) for v in c["size"]),
        }
    if not cams:
        raise ValueError(f"{path}: no camera sections (with 'matrix', 'rotation', 'translation') in this calibration file")
    return cams


def read_trc(path: Path) -> tuple[tuple[str, ...], np.ndarray, float]:
    """(marker names, positions (F, M, 3), frame rate) of a TRC file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t")))
    names = tuple(n for n in lines[3].split("\t")[2:] if n.strip())
    rows = [line.split("\t") for line in lines[5:] if line.strip()]
    values = np.array([[float(v) if v.strip() else np.nan for v in r[2 : 2 + 3 * len(names)]] for r in rows])
    return names, values.reshape(len(rows), len(names), 3), float(header.get("DataRate", 60))


def read_openpose_folder(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(F, 25, 2) pixels and (F, 25) confidence, the first person of each frame's JSON."""
    files = sorted(Path(folder).glob("*.json"))
    pts = np.full((len(files), 25, 2), np.nan)
    conf = np.zeros((len(files), 25))
    for i, f in enumerate(files):
        people = json.loads(f.read_text(encoding="utf-8")).get("people", [])
        flat = people[0].get("pose_keypoints_2d", []) if people else []
        if len(flat) == 75:
            kp = np.asarray(flat, np.float64).reshape(25, 3)
            pts[i], conf[i] = kp[:, :2], kp[:, 2]
    return pts, conf


def _rotations() -> list[np.ndarray]:
    out = []
    for perm in permutations(range(3)):
        for signs in product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            if np.linalg.det(m) > 0:
                out.append(m)
    return out


def _project(points: np.ndarray, cam: dict) -> tuple[np.ndarray, np.ndarray]:
    cam3d = points @ cam["R"].T + cam["t"]
    uvw = cam3d @ cam["K"].T
    return uvw[..., :2] / uvw[..., 2:3], cam3d


def find_trials(root: Path) -> list[Path]:
    """Trial folders with one person's TRC and per-camera detections under ``root``."""
    trials = []
    for pose3d in sorted(Path(root).rglob("pose-3d")):
        trial = pose3d.parent
        raw = [p for p in pose3d.glob("*.trc") if "filt" not in p.name]
        detections = trial / "pose-associated" if (trial / "pose-associated").is_dir() else trial / "pose"
        if len(raw) == 1 and detections.is_dir():
            trials.append(trial)
    return trials


def real2d_views(root: str | Path, skeleton: str, fps: float) -> list[EvalView]:
    """One view per (single-person trial, camera) of a Pose2Sim session folder."""
    root = Path(root)
    calib_files = sorted(root.rglob("Calib*.toml"))
    if not calib_files:
        raise FileNotFoundError(f"{root}: no Pose2Sim calibration (Calib*.toml) found")
    cams = read_calibration(calib_files[0])
    trials = find_trials(root)
    if not trials:
        raise FileNotFoundError(f"{root}: no single-person Pose2Sim trial (pose-3d/*.trc with pose/ detections)")
    views = []
    for trial in trials:
        trcs = sorted((trial / "pose-3d").glob("*.trc"))
        trc = next((p for p in trcs if p.name.endswith("_filt_butterworth.trc")), next(p for p in trcs if "filt" not in p.name))
        names, positions, trc_fps = read_trc(trc)
        ref = named_to_skeleton(positions, tuple(TRC_NAMES.get(n, n) for n in names), skeleton)
        detections = trial / "pose-associated" if (trial / "pose-associated").is_dir() else trial / "pose"
        per_cam = {}
        for key, cam in cams.items():
            folder = next(iter(sorted(detections.glob(f"*{key.split('_')[-1]}*_json"))), None)
            if folder is None:
                continue
            pts, conf = read_openpose_folder(folder)
            n = min(len(pts), len(ref))
            per_cam[key] = (*detections_to_skeleton(pts[:n], conf[:n], skeleton), n)
        if not per_cam:
            continue
        best, best_err = None, np.inf
        for rot in _rotations():
            errs = []
            for key, (p2d, c2d, n) in per_cam.items():
                proj, _ = _project(ref[:n] @ rot.T, cams[key])
                ok = (c2d > 0.3) & np.isfinite(proj).all(-1) & np.isfinite(p2d).all(-1)
                errs.append(np.linalg.norm(proj - p2d, axis=-1)[ok])
            err = float(np.median(np.concatenate(errs))) if errs else np.inf
            if err < best_err:
                best, best_err = rot, err
        step = max(1, int(round(trc_fps / fps)))
        skel = get_skeleton(skeleton)
        for key, (p2d, c2d, n) in per_cam.items():
            _, cam3d = _project(ref[:n] @ best.T, cams[key])
            cam3d = cam3d[::step]
            views.append(
                EvalView(
                    name=f"{trial.name}/{key}", subject=trial.parent.name, action=None,
                    pose_3d=cam3d - cam3d[:, skel.root : skel.root + 1], points_px=p2d[::step], confidence=c2d[::step],
                    image_size=cams[key]["size"], meta={"trc": trc.name, "reprojection_px": round(best_err, 2)},
                )
            )
    return views
