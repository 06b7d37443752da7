"""Procedural walking / waving stick figures on anim19, for tests that need motion
without real data: world Z up, metres, with varied speed, turning and limb swing."""
from __future__ import annotations

import numpy as np

from engine.skeleton import get_skeleton


def _rotate_z(v: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1], v[..., 2]], -1)


def synthetic_positions(frames: int, fps: float = 30.0, seed: int = 0) -> np.ndarray:
    """(frames, 19, 3) anim19 positions of a figure walking along a curve and waving."""
    rng = np.random.default_rng(seed)
    skel = get_skeleton("anim19")
    t = np.arange(frames) / fps
    freq = rng.uniform(0.6, 1.2)
    amp_leg, amp_arm = rng.uniform(0.2, 0.6), rng.uniform(0.2, 1.2)
    turn = rng.uniform(-0.6, 0.6)
    phase = 2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)
    yaw = turn * t + rng.uniform(0, 2 * np.pi)
    speed = rng.uniform(0.2, 1.2)
    forward = np.stack([-np.sin(yaw), np.cos(yaw), np.zeros_like(yaw)], -1)
    pelvis = np.cumsum(forward * speed / fps, 0) + np.array([0.0, 0.0, 0.95])
    pelvis[:, 2] += 0.03 * np.sin(2 * phase)
    local = np.zeros((frames, skel.num_joints, 3))

    def at(name: str, value: np.ndarray) -> None:
        local[:, skel.index(name)] = value

    def down(angle: np.ndarray, length: float) -> np.ndarray:
        return np.stack([np.zeros_like(angle), np.sin(angle), -np.cos(angle)], -1) * length

    for side, sign in (("right", 1.0), ("left", -1.0)):
        swing = sign * amp_leg * np.sin(phase)
        hip = np.array([sign * 0.12, 0.0, 0.0])
        knee = hip + down(swing, 0.45)
        ankle = knee + down(swing - 0.4 * (1 + np.sin(phase * sign)), 0.43)
        toe = ankle + np.array([0.0, 0.14, -0.05])
        at(f"{side}_hip", np.broadcast_to(hip, (frames, 3)))
        at(f"{side}_knee", knee)
        at(f"{side}_ankle", ankle)
        at(f"{side}_toe", toe)
        shoulder = np.array([sign * 0.18, 0.0, 0.5])
        arm = -sign * amp_arm * np.sin(phase + (0.5 if side == "left" else 0.0))
        elbow = shoulder + down(arm, 0.28)
        wrist = elbow + down(arm + 0.3 + 0.3 * np.sin(phase), 0.25)
        at(f"{side}_shoulder", np.broadcast_to(shoulder, (frames, 3)))
        at(f"{side}_elbow", elbow)
        at(f"{side}_wrist", wrist)
    at("spine", np.broadcast_to([0.0, 0.0, 0.25], (frames, 3)))
    at("thorax", np.broadcast_to([0.0, 0.0, 0.5], (frames, 3)))
    at("neck", np.broadcast_to([0.0, 0.03, 0.62], (frames, 3)))
    at("head", np.broadcast_to([0.0, 0.03, 0.8], (frames, 3)))
    world = _rotate_z(local.reshape(frames, -1, 3), yaw) + pelvis[:, None]
    return world.astype(np.float32)


def synthetic_clips(subjects: dict[str, int], frames: int = 120, fps: float = 30.0, seed: int = 0) -> list:
    """MotionClips: ``subjects`` maps a subject id to its number of clips."""
    from training.data import MotionClip

    clips = []
    for si, (subject, count) in enumerate(subjects.items()):
        for k in range(count):
            clips.append(
                MotionClip(
                    positions=synthetic_positions(frames, fps, seed=seed + 100 * si + k), fps=fps, subject=subject,
                    clip=f"{subject}_{k:02d}", source=f"synthetic/{subject}_{k:02d}", action="walk" if k % 2 else "wave",
                )
            )
    return clips
