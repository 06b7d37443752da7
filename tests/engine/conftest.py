"""Fixtures for the engine runtime tests: the tiny model as an ONNX set, and the real
Pose2Sim session (OpenPose BODY_25B detections, calibration, triangulated 3D) read with a
minimal numpy loader so these tests do not depend on the keypoint readers."""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_shared_data

SESSION = ("pose2sim_demo", "S00_Demo_Session")
TRIAL = ("S00_P00_SingleParticipant", "S00_P00_T01_BalancingTrial")
# BODY_25B indices of the TRC marker names Pose2Sim writes (its "Neck" is UpperNeck 17, "Head" HeadTop 18).
BODY_25B = {
    "Nose": 0, "LShoulder": 5, "RShoulder": 6, "LElbow": 7, "RElbow": 8, "LWrist": 9, "RWrist": 10,
    "LHip": 11, "RHip": 12, "LKnee": 13, "RKnee": 14, "LAnkle": 15, "RAnkle": 16, "Neck": 17, "Head": 18,
    "LBigToe": 19, "LSmallToe": 20, "LHeel": 21, "RBigToe": 22, "RSmallToe": 23, "RHeel": 24,
}
# anim19 joint -> BODY_25B marker names averaged (the standard derived joints; neck = nose on detectors).
ANIM19_FROM_BODY_25B = {
    "pelvis": ["LHip", "RHip"], "right_hip": ["RHip"], "right_knee": ["RKnee"], "right_ankle": ["RAnkle"],
    "left_hip": ["LHip"], "left_knee": ["LKnee"], "left_ankle": ["LAnkle"],
    "spine": ["LHip", "RHip", "LShoulder", "RShoulder"], "thorax": ["LShoulder", "RShoulder"], "neck": ["Nose"],
    "head": ["Head"], "left_shoulder": ["LShoulder"], "left_elbow": ["LElbow"], "left_wrist": ["LWrist"],
    "right_shoulder": ["RShoulder"], "right_elbow": ["RElbow"], "right_wrist": ["RWrist"],
    "right_toe": ["RBigToe", "RSmallToe"], "left_toe": ["LBigToe", "LSmallToe"],
}


@dataclass
class Camera:
    K: np.ndarray  # (3, 3) intrinsics, pixels
    R: np.ndarray  # world -> camera rotation (OpenCV)
    t: np.ndarray  # world -> camera translation, metres
    size: tuple[int, int]  # (w, h)

    def to_camera(self, world: np.ndarray) -> np.ndarray:
        return world @ self.R.T + self.t

    def project(self, cam_points: np.ndarray) -> np.ndarray:
        uv = cam_points @ self.K.T
        return uv[..., :2] / uv[..., 2:]


@dataclass
class Pose2SimTrial:
    markers: list[str]  # TRC marker names, in the order of ``world`` and ``detections``
    world: np.ndarray  # (F, M, 3) triangulated markers, calibration world frame (Z up), metres
    world_filtered: np.ndarray  # the same after Pose2Sim's Butterworth filter (smooth motion)
    fps: float
    cameras: dict[str, Camera]
    detections: dict[str, np.ndarray]  # camera -> (F, M, 3) x, y pixels and confidence (NaN where none)

    def anim19(self, values: np.ndarray) -> np.ndarray:
        """(F, M, C) marker values -> (F, 19, C) anim19 joints (NaN where a source is missing)."""
        from engine.skeleton import get_skeleton

        joints = get_skeleton("anim19").joints
        return np.stack(
            [np.mean([values[:, self.markers.index(m)] for m in ANIM19_FROM_BODY_25B[j]], axis=0) for j in joints], axis=1
        )


def _rodrigues(r: list[float]) -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    theta = np.linalg.norm(r)
    k = r / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx


def _read_trc(path: Path) -> tuple[list[str], np.ndarray, float]:
    lines = path.read_text().splitlines()
    fps = float(lines[2].split("\t")[0])
    markers = [m for m in lines[3].split("\t")[2:] if m.strip()]
    rows = [[float(v) for v in line.split("\t")[2:]] for line in lines[5:] if line.strip()]
    values = np.asarray(rows).reshape(len(rows), len(markers), 3)
    # Pose2Sim writes TRC Y-up (its zup2yup swaps columns): TRC (X, Y, Z) = world (Y, Z, X).
    return markers, values[..., [2, 0, 1]], fps


def _read_openpose_folder(folder: Path, num_points: int = 25) -> np.ndarray:
    frames = []
    for f in sorted(folder.glob("*.json")):
        people = json.loads(f.read_text())["people"]
        person = people[0] if people and "pose_keypoints_2d" in people[0] else None
        frames.append(np.asarray(person["pose_keypoints_2d"]).reshape(-1, 3) if person else np.full((num_points, 3), np.nan))
    out = np.stack(frames)
    out[out[..., 2] <= 0] = np.nan  # OpenPose writes 0, 0, 0 for a missing point
    return out


@pytest.fixture(scope="session")
def pose2sim_trial() -> Pose2SimTrial:
    session = require_shared_data(*SESSION)
    trial = session.joinpath(*TRIAL)
    markers, world, fps = _read_trc(trial / "pose-3d" / "S00_P00_T01_BalancingTrial_0-100.trc")
    _, world_filtered, _ = _read_trc(trial / "pose-3d" / "S00_P00_T01_BalancingTrial_0-100_filt_butterworth.trc")
    calib = tomllib.loads((session / "S00_Calibration" / "Calib_qualisys.toml").read_text())
    cameras, detections = {}, {}
    for i in range(1, 5):
        c = calib[f"cam_{i:02d}"]
        w, h = (int(v) for v in c["size"])
        cameras[f"cam_{i:02d}"] = Camera(np.asarray(c["matrix"]), _rodrigues(c["rotation"]), np.asarray(c["translation"]), (w, h))
        body = _read_openpose_folder(trial / "pose-associated" / f"cam{i:02d}_json")
        detections[f"cam_{i:02d}"] = body[:, [BODY_25B[m] for m in markers]]
    return Pose2SimTrial(markers, world, world_filtered, fps, cameras, detections)


@pytest.fixture(scope="session")
def tiny_onnx_set(tiny_model, tmp_path_factory) -> Path:
    """The tiny model exported as an ONNX set (all jobs); returns the stem."""
    from engine.onnx_export import export_onnx

    stem = tmp_path_factory.mktemp("onnx") / "tiny"
    export_onnx(tiny_model, stem)
    return stem
