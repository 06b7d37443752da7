"""Constant bone lengths and smoothing on real triangulated motion (Pose2Sim, 60 fps)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.postprocess import acceleration_error, bone_lengths, fit_bone_lengths, savgol, smooth
from engine.skeleton import get_skeleton
from engine.validate import InputError

SKELETON = get_skeleton("anim19")


@pytest.fixture(scope="module")
def motion(pose2sim_trial):
    """Real anim19 motion in camera space (metres; Pose2Sim's Butterworth-filtered
    triangulation, so it is smooth) and a copy with 1 cm of per-joint jitter."""
    clean = pose2sim_trial.cameras["cam_01"].to_camera(pose2sim_trial.anim19(pose2sim_trial.world_filtered))
    noisy = clean + np.random.default_rng(0).normal(scale=0.01, size=clean.shape)
    return clean, noisy, pose2sim_trial.fps


def _angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_fit_bone_lengths_makes_lengths_constant_and_keeps_directions(motion):
    _, noisy, _ = motion
    parents, children = np.array(SKELETON.bones).T
    before = np.linalg.norm(noisy[:, children] - noisy[:, parents], axis=-1)
    assert before.std(0).max() > 0.005  # the jitter really varies the lengths
    fitted = fit_bone_lengths(noisy, "anim19")
    after = np.linalg.norm(fitted[:, children] - fitted[:, parents], axis=-1)
    np.testing.assert_allclose(after, np.broadcast_to(np.median(before, 0), after.shape), atol=1e-5)
    assert _angles(fitted[:, children] - fitted[:, parents], noisy[:, children] - noisy[:, parents]).max() < 0.05  # degrees
    np.testing.assert_allclose(fitted[:, 0], noisy[:, 0], atol=1e-5)  # the root stays


def test_fit_bone_lengths_uses_given_lengths(motion):
    clean, _, _ = motion
    lengths = bone_lengths(clean, SKELETON) * 1.1
    fitted = fit_bone_lengths(clean, SKELETON, lengths)
    np.testing.assert_allclose(bone_lengths(fitted, SKELETON), lengths, atol=1e-5)
    with pytest.raises(InputError, match="18 finite non-negative bone lengths"):
        fit_bone_lengths(clean, SKELETON, lengths[:-1])


@pytest.mark.parametrize("name", ["one_euro", "savgol"])
def test_filters_reduce_jitter_and_error_against_the_clean_motion(motion, name):
    clean, noisy, fps = motion
    result = smooth(noisy, fps, filter=name)
    assert result.accel_error_after < 0.5 * result.accel_error_before
    # against the clean motion (measured: 39.4 -> 4.0 savgol, 39.4 -> 14.8 one-euro, mm/frame^2)
    against = smooth(noisy, fps, filter=name, reference=clean)
    assert against.accel_error_after < 0.5 * against.accel_error_before
    error_before = np.linalg.norm(noisy - clean, axis=-1).mean()
    error_after = np.linalg.norm(result.poses - clean, axis=-1).mean()
    # measured 15.9 mm -> 7.1 (savgol, zero lag), 15.6 (one-euro: causal, so it lags)
    assert error_after < (0.6 if name == "savgol" else 1.05) * error_before
    assert result.poses.shape == noisy.shape and result.filter == name


def test_savgol_keeps_polynomials_exactly_even_at_the_edges():
    t = np.arange(40, dtype=np.float64)
    quadratic = (0.5 * t**2 - 3 * t + 2)[:, None, None] * np.ones((1, 2, 3))
    np.testing.assert_allclose(savgol(quadratic, window=9, polyorder=2), quadratic, atol=1e-8)
    short = quadratic[:4]  # shorter than the window: the window shrinks
    np.testing.assert_allclose(savgol(short, window=9, polyorder=2), short, atol=1e-8)


def test_none_filter_and_acceleration_units():
    t = np.arange(10, dtype=np.float64)
    falling = np.zeros((10, 1, 3))
    falling[:, 0, 1] = 0.5 * 0.002 * t**2  # 2 mm/frame^2
    result = smooth(falling, 30.0, filter="none")
    assert result.accel_error_before == pytest.approx(2.0) and result.accel_error_after == pytest.approx(2.0)
    assert acceleration_error(falling, falling) == 0.0


def test_smooth_rejects_bad_arguments(motion):
    clean, _, fps = motion
    with pytest.raises(InputError, match="filter: expected one of"):
        smooth(clean, fps, filter="kalman")
    with pytest.raises(InputError, match="odd window"):
        smooth(clean, fps, filter="savgol", window=8)
    with pytest.raises(InputError, match="NaN or infinite"):
        smooth(np.where(np.arange(len(clean))[:, None, None] == 3, np.nan, clean), fps)
    with pytest.raises(InputError, match="fps"):
        smooth(clean, None)
