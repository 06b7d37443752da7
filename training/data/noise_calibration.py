"""Measure detector noise on real detections against a re-projected triangulation.

    python -m training.data.noise_calibration \\
        --trial ../shared/data/pose2sim_demo/S00_Demo_Session/S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial \\
        --calibration ../shared/data/pose2sim_demo/S00_Demo_Session/S00_Calibration/Calib_qualisys.toml

For every camera, the OpenPose BODY_25B detections (``pose-associated/camXX_json``) are
compared with the trial's triangulated 3D (the unfiltered ``pose-3d/*.trc``) projected
through the calibration. Both become ``anim19`` joints by the same rules as
engine/data/keypoint_formats.json (pelvis = mean of the hips, thorax = mean of the
shoulders, spine = mean of hips and shoulders, neck = nose, head = head top, toe = mean
of big and small toe). Detections below the triangulation's likelihood threshold (0.3)
are left out. Per joint and camera the residual (detection - projection) is split into
a smooth part (centred ``SMOOTH_FRAMES``-frame moving average) and the rest:

* ``jitter``: robust std (1.4826 x MAD) of the rest, per axis;
* ``drift``: std of the smooth part about its mean, per axis;
* ``offset``: the mean residual (calibration / triangulation inconsistency, reported, not
  used by the noise model: the 3D was triangulated from these same detections);

all divided by the person's height in that camera's pixels, then the median over cameras.
``confidence`` is the mean score and ``dropout`` the share of scores below 0.3.

The TRC file is Y up (OpenSim); the calibration's world is recovered by the axis
permutation that minimises the re-projection error (Pose2Sim writes (y, z, x) of the
calibration world).
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from engine.skeleton import get_skeleton

from .cameras import Camera, read_pose2sim_calibration
from .pose2sim import BODY_25B, read_openpose_folder, to_anim19, trc_keypoint_name
from .trc import read_trc

SMOOTH_FRAMES = 9
LIKELIHOOD_THRESHOLD = 0.3


def trc_to_calibration_world(points: np.ndarray, cameras: dict[str, Camera], detections: dict[str, np.ndarray],
                             trc_names: list[str]) -> np.ndarray:
    """Try the 24 axis permutations with signs of determinant +1; keep the best fit."""
    best, best_err = None, np.inf
    idx = [BODY_25B.index(trc_keypoint_name(m)) for m in trc_names]
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            if np.linalg.det(m) < 0:
                continue
            world = points @ m.T
            errs = []
            for key, cam in cameras.items():
                px = cam.project(world)
                errs.append(np.nanmedian(np.linalg.norm(px - detections[key][:, idx, :2], axis=-1)))
            err = float(np.mean(errs)) if np.isfinite(errs).all() else np.inf
            if err < best_err:
                best, best_err = world, err
    return best


def moving_average(x: np.ndarray, n: int) -> np.ndarray:
    """Centred NaN-aware moving average over axis 0."""
    valid = np.isfinite(x)
    filled = np.where(valid, x, 0.0)
    kernel = np.ones(n)
    conv = lambda a: np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 0, a)
    count = conv(valid.astype(float))
    return np.where(count >= n // 2 + 1, conv(filled) / np.maximum(count, 1), np.nan)


def measure(trial: Path, calibration: Path) -> dict:
    cameras = read_pose2sim_calibration(calibration)
    folders = {key: trial / "pose-associated" / f"{key.replace('_', '')}_json" for key in cameras}
    detections = {key: read_openpose_folder(folder) for key, folder in folders.items()}
    trc_file = sorted(p for p in (trial / "pose-3d").glob("*.trc") if "filt" not in p.name)[0]
    trc = read_trc(trc_file)
    world = trc_to_calibration_world(trc.positions, cameras, detections, trc.markers)
    trc_names = [trc_keypoint_name(m) for m in trc.markers]
    skel = get_skeleton("anim19")
    stats: dict[str, dict[str, list[float]]] = {j: {k: [] for k in ("jitter", "drift", "offset", "confidence", "dropout")} for j in skel.joints}
    per_camera = {}
    for key, cam in cameras.items():
        det = detections[key][: len(world)]
        proj = to_anim19(cam.project(world), trc_names)
        scores = to_anim19(det[..., 2:3], BODY_25B)[..., 0]
        det_xy = to_anim19(np.where(det[..., 2:3] >= LIKELIHOOD_THRESHOLD, det[..., :2], np.nan), BODY_25B)
        height_px = float(np.nanmedian(np.nanmax(proj[..., 1], 1) - np.nanmin(proj[..., 1], 1)))
        per_camera[key] = {"person_height_px": height_px, "image_size": cam.image_size}
        residual = det_xy - proj
        smooth = moving_average(residual, SMOOTH_FRAMES)
        rest = residual - smooth
        for j, joint in enumerate(skel.joints):
            r, s = rest[:, j], smooth[:, j]
            ok = np.isfinite(r).all(-1)
            if ok.sum() < 10:
                continue
            mad = np.median(np.abs(r[ok] - np.median(r[ok], 0)), 0) * 1.4826
            stats[joint]["jitter"].append(float(np.mean(mad)) / height_px)
            stats[joint]["drift"].append(float(np.mean(np.nanstd(s, 0))) / height_px)
            stats[joint]["offset"].append(float(np.linalg.norm(np.nanmean(residual[:, j], 0))) / height_px)
            sc = scores[:, j][np.isfinite(scores[:, j])]
            stats[joint]["confidence"].append(float(np.mean(sc)))
            stats[joint]["dropout"].append(float(np.mean(sc < LIKELIHOOD_THRESHOLD)))
    table = {j: {k: round(float(np.median(v)), 4) for k, v in s.items() if v} for j, s in stats.items()}
    return {"trc": str(trc_file), "fps": trc.fps, "frames": len(world), "smooth_frames": SMOOTH_FRAMES,
            "cameras": per_camera, "joints": table}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.noise_calibration", description=__doc__.split("\n\n")[0])
    ap.add_argument("--trial", type=Path, required=True, help="a Pose2Sim trial folder (pose-associated/, pose-3d/)")
    ap.add_argument("--calibration", type=Path, required=True, help="its calibration TOML")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    result = measure(args.trial, args.calibration)
    for key, cam in result["cameras"].items():
        print(f"{key}: person {cam['person_height_px']:.0f} px high in {cam['image_size'][0]}x{cam['image_size'][1]}")
    print(f"{'joint':16s} {'jitter':>7s} {'drift':>7s} {'offset':>7s} {'conf':>5s} {'drop':>5s}   (fractions of person height)")
    for joint, row in result["joints"].items():
        print(f"{joint:16s} {row.get('jitter', np.nan):7.4f} {row.get('drift', np.nan):7.4f} {row.get('offset', np.nan):7.4f} "
              f"{row.get('confidence', np.nan):5.2f} {row.get('dropout', np.nan):5.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
