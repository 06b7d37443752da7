"""Windowed inference: padding, blended windows, batching, resampling, masking, the two modes."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from engine.api import complete_2d, complete_3d, lift
from engine.backends import Backend, TorchBackend, load_backend
from engine.config import MPMConfig
from engine.coords import normalize_screen
from engine.gap_choice import interior_gaps
from engine.gaps import fill_interpolate, fill_mirrored
from engine.runtime import (
    WindowStats, default_overlap, dense_overlap, flip_averaged, resample, run_centre, run_sequence, window_starts,
)

SIZE = (1088, 1920)


class EchoBackend(Backend):
    """Returns each window's input (3D jobs) or its 2D padded with a z channel: isolates the
    windowing arithmetic from the network."""

    name = "echo"
    device = "cpu"

    def __init__(self, config: MPMConfig) -> None:
        self.config = config
        self.batches: list[int] = []

    def _run(self, job, pose, visible):
        self.batches.append(len(pose))
        if job == "lift_centre":
            return np.concatenate([pose[:, pose.shape[1] // 2], np.zeros_like(pose[:, 0, :, :1])], -1)
        if pose.shape[-1] == 2 and job != "complete_2d":
            return np.concatenate([pose, np.zeros_like(pose[..., :1])], -1)
        return pose.copy()


@pytest.fixture(scope="module")
def backend(tiny_model):
    return TorchBackend(tiny_model, device="cpu")


@pytest.fixture(scope="module")
def clip(pose2sim_trial):
    """Real anim19 2D detections (pixels, NaN where missing) and confidences, 100 frames at 60 fps."""
    det = pose2sim_trial.anim19(pose2sim_trial.detections["cam_02"])
    return det[..., :2].astype(np.float32), np.nan_to_num(det[..., 2]).astype(np.float32), pose2sim_trial.fps


def test_windows_cover_the_clip_with_the_requested_overlap():
    starts = window_starts(100, 27, 3)
    assert starts[0] == 0 and starts[-1] == 100 - 27
    assert (np.diff(starts)[:-1] == 24).all() and np.diff(starts)[-1] <= 24
    covered = np.zeros(100, bool)
    for s in starts:
        covered[s : s + 27] = True
    assert covered.all()
    with pytest.raises(ValueError, match="overlap"):
        window_starts(100, 27, 27)


@pytest.mark.parametrize("overlap", [4, 18])  # the fast mode's kind of overlap, and the accurate mode's (dense_overlap)
@pytest.mark.parametrize("frames", [1, 5, 27, 28, 50, 101, 1000])
def test_blended_windows_reproduce_a_consistent_signal_exactly(frames, overlap):
    """If every window predicts the same thing for a frame, blending returns it unchanged,
    whatever the clip length (padding below a window, overlaps above)."""
    cfg = MPMConfig.preset("tiny")
    echo = EchoBackend(cfg)
    rng = np.random.default_rng(frames)
    pose = rng.normal(size=(frames, cfg.num_joints, 3)).astype(np.float32)
    stats = WindowStats()
    out = run_sequence(echo, "complete_3d", pose, np.ones(pose.shape[:2], bool), overlap=overlap, batch_size=3, stats=stats)
    np.testing.assert_allclose(out, pose, rtol=0, atol=1e-6)
    expected_windows = 1 if frames <= 27 else len(window_starts(frames, 27, overlap))
    assert stats.windows[("complete_3d", 27)] == expected_windows
    assert max(echo.batches) <= 3


def test_cross_fade_weights_stay_symmetric_past_half_a_window():
    from engine.runtime import _ramp_weights

    assert dense_overlap(27) == 18
    w = _ramp_weights(27, dense_overlap(27), fade_in=True, fade_out=True)
    np.testing.assert_allclose(w, w[::-1])  # the two ramps meet in the middle, neither overwrites the other
    assert w.argmax() == 13 and (w > 0).all()
    np.testing.assert_array_equal(_ramp_weights(27, 4, True, True)[4:23], 1.0)  # short overlaps: flat between the ramps


def test_overlapping_windows_cross_fade(backend):
    """A frame inside an overlap mixes both windows' predictions; elsewhere one window's."""
    n = backend.config.num_frames
    rng = np.random.default_rng(1)
    pose = rng.normal(scale=0.3, size=(2 * n, backend.config.num_joints, 2)).astype(np.float32)
    visible = np.ones(pose.shape[:2], bool)
    out = run_sequence(backend, "lift_full", pose, visible, overlap=6)
    first = backend.run("lift_full", pose[None, :n], visible[None, :n])[0]
    last = backend.run("lift_full", pose[None, n:], visible[None, n:])[0]
    starts = window_starts(2 * n, n, 6)
    assert len(starts) == 3  # 0, 21, 27
    np.testing.assert_allclose(out[:starts[1]], first[:starts[1]], atol=1e-6)
    np.testing.assert_allclose(out[-5:], last[-5:], atol=1e-6)
    middle = backend.run("lift_full", pose[None, starts[1] : starts[1] + n], visible[None, starts[1] : starts[1] + n])[0]
    frame = starts[1] + 2  # faded: weight of the first window falls, the middle one's rises
    assert not np.allclose(out[frame], first[frame], atol=1e-6) and not np.allclose(out[frame], middle[2], atol=1e-6)


def test_result_does_not_depend_on_batch_size(backend, clip):
    points, conf, fps = clip
    long_points = np.concatenate([points] * 3)
    long_conf = np.concatenate([conf] * 3)
    a = lift(backend, long_points, long_conf, SIZE, batch_size=1)
    b = lift(backend, long_points, long_conf, SIZE, batch_size=64)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_short_clip_is_one_edge_padded_window(backend, clip):
    points, conf, _ = clip
    short, short_conf = points[:10], conf[:10]
    out = lift(backend, short, short_conf, SIZE)
    n = backend.config.num_frames
    visible = np.isfinite(short).all(-1) & (short_conf >= 0.3)
    x = np.where(visible[..., None], normalize_screen(np.nan_to_num(short), *SIZE), 0).astype(np.float32)
    index = np.minimum(np.arange(n), 9)
    run = lambda xs, vs: backend.run("lift_full", xs, vs)  # noqa: E731
    direct = flip_averaged(run, x[index][None], visible[index][None], backend.config.skel.flip_permutation)[0, :10]
    np.testing.assert_allclose(out, direct, atol=1e-6)
    assert out.shape == (10, backend.config.num_joints, 3)
    np.testing.assert_allclose(out[:, 0], 0, atol=1e-6)  # root-relative


def test_masked_joints_never_leak_their_values(backend, clip):
    """A NaN joint, a low-confidence joint with a garbage position and a missing frame give
    the same result as the same joints with other values."""
    points, conf, _ = clip
    a_points, b_points = points.copy(), points.copy()
    a_conf = conf.copy()
    a_points[5, 3] = np.nan
    b_points[5, 3] = [1e4, -1e4]
    a_conf[5, 3] = b_conf5 = 1.0
    a_points[7, 11] = [-5e3, 7e3]
    a_conf[7, 11] = 0.1
    b_points[7, 11] = [1.0, 2.0]
    b_conf = a_conf.copy()
    b_conf[5, 3] = 0.0
    assert b_conf5 == 1.0
    a_points[20:23] = np.nan
    b_points[20:23] = 123.0
    b_conf[20:23] = 0.0
    out_a = lift(backend, a_points, a_conf, SIZE)
    out_b = lift(backend, b_points, b_conf, SIZE)
    np.testing.assert_allclose(out_a, out_b, atol=1e-6)
    assert np.isfinite(out_a).all()


@pytest.mark.parametrize("mode", ["fast", "accurate"])
def test_lifting_with_flip_is_mirror_equivariant(backend, clip, mode):
    """Both modes average each window and its mirror image (flip test-time augmentation),
    so lifting the mirrored clip gives exactly the mirrored result."""
    points, conf, _ = clip
    points, conf = points[:40], conf[:40]
    perm = backend.config.skel.flip_permutation
    w = SIZE[0]
    mirrored = np.stack([w - points[..., 0], points[..., 1]], -1)[:, perm]
    stats = WindowStats()
    out = lift(backend, points, conf, SIZE, mode=mode, stats=stats)
    out_m = lift(backend, mirrored, conf[:, perm], SIZE, mode=mode)
    np.testing.assert_allclose(out_m, out[:, perm] * [-1, 1, 1], atol=1e-5)
    n = backend.config.num_frames
    if mode == "fast":  # the full-sequence windows only, each twice
        assert dict(stats.windows) == {("lift_full", n): 2 * len(window_starts(40, n, default_overlap(n)))}
        return
    assert stats.windows[("lift_centre", n)] == 2 * 40  # one window per frame, twice
    assert stats.windows[("lift_full", n)] == 2 * len(window_starts(40, n, dense_overlap(n)))  # and a full window every n // 3 frames
    fast = lift(backend, points, conf, SIZE, mode="fast")
    assert np.abs(fast - out).max() > 1e-4  # not the fast mode's answer


def test_fast_mode_is_the_full_head_with_flip(backend, clip):
    points, conf, _ = clip
    perm = backend.config.skel.flip_permutation
    visible = conf >= 0.3
    x = normalize_screen(points, *SIZE).astype(np.float32)
    flipped = run_sequence(backend, "lift_full", x, visible, flip_permutation=perm)
    plain = run_sequence(backend, "lift_full", x, visible)
    assert np.abs(flipped - plain).max() > 1e-4
    np.testing.assert_allclose(lift(backend, points, conf, SIZE, mode="fast"), flipped, atol=1e-5)


def test_accurate_mode_is_the_mean_of_both_heads_with_flip(backend, clip):
    points, conf, _ = clip
    points, conf = points[:40], conf[:40]
    perm = backend.config.skel.flip_permutation
    visible = conf >= 0.3
    x = normalize_screen(points, *SIZE).astype(np.float32)
    centre = run_centre(backend, x, visible, flip_permutation=perm)
    full = run_sequence(backend, "lift_full", x, visible, overlap=dense_overlap(backend.config.num_frames), flip_permutation=perm)
    plain_full = run_sequence(backend, "lift_full", x, visible, overlap=dense_overlap(backend.config.num_frames))
    assert np.abs(full - plain_full).max() > 1e-4 and np.abs(full - centre).max() > 1e-4
    np.testing.assert_allclose(lift(backend, points, conf, SIZE, mode="accurate"), 0.5 * (centre + full), atol=1e-5)


def test_accurate_mode_runs_one_centred_window_per_frame():
    cfg = MPMConfig.preset("tiny")
    echo = EchoBackend(cfg)
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 1000, size=(30, cfg.num_joints, 2)).astype(np.float32)
    out = lift(echo, points, None, (1000, 1000), mode="accurate")
    # the echo returns each window's centre frame; flip averaging of a mirror-consistent echo is exact
    np.testing.assert_allclose(out[..., :2], normalize_screen(points, 1000, 1000), atol=1e-6)


def test_frame_rate_is_resampled_to_the_model_and_back():
    cfg = MPMConfig.preset("tiny")  # 30 fps
    echo = EchoBackend(cfg)
    t = np.arange(200) / 60.0
    pose = np.stack([np.sin(t), np.cos(t), t], -1)[:, None].repeat(cfg.num_joints, 1).astype(np.float32)
    stats = WindowStats()
    out = complete_3d(echo, pose, np.ones(pose.shape[:2], bool) & (np.arange(cfg.num_joints) != 5), fps=60.0, stats=stats)
    assert out.shape == pose.shape
    # 200 frames at 60 fps -> 100 at 30; each window also runs mirrored
    assert stats.windows[("complete_3d", 27)] == 2 * len(window_starts(100, 27, default_overlap(27)))
    np.testing.assert_allclose(out[:, 5], pose[:, 5], atol=2e-4)  # smooth motion survives 60 -> 30 -> 60


def test_resample_interpolates_only_visible_neighbours():
    values = np.arange(10, dtype=np.float32)[:, None, None].repeat(2, 2)
    visible = np.ones((10, 1), bool)
    visible[4] = False
    out, vis = resample(values, visible, 10.0, 20.0)
    assert len(out) == 19
    expected = np.arange(19) / 2
    expected[7], expected[9] = 3.0, 5.0  # times 3.5 and 4.5: only the visible neighbour counts
    np.testing.assert_allclose(out[vis[:, 0], 0, 0], expected[vis[:, 0]])
    assert not vis[8, 0] and vis.sum() == 18  # time 4.0: the missing source frame itself
    up, _ = resample(out, None, 20.0, 10.0, num_out=10)
    assert up.shape == (10, 1, 2)


def test_complete_3d_keeps_observed_joints_bit_for_bit_and_follows_translation(backend, pose2sim_trial):
    cam = pose2sim_trial.cameras["cam_01"]
    poses = cam.to_camera(pose2sim_trial.anim19(pose2sim_trial.world))[:60]  # float64, global position
    rng = np.random.default_rng(4)
    visible = rng.random(poses.shape[:2]) > 0.4
    visible[10:14] = False  # whole frames missing
    holes = np.where(visible[..., None], poses, np.nan)
    out = complete_3d(backend, holes, visible)
    assert out.dtype == np.float64
    assert np.array_equal(out[visible], poses[visible])
    assert np.isfinite(out).all()
    moved = complete_3d(backend, holes + [1.0, -2.0, 3.0], visible)
    np.testing.assert_allclose(moved - [1.0, -2.0, 3.0], out, atol=1e-5)
    # flip averaging: the mirrored clip (x -> -x, left and right swapped) completes mirrored
    perm = backend.config.skel.flip_permutation
    mirrored = complete_3d(backend, holes[:, perm] * [-1.0, 1.0, 1.0], visible[:, perm])
    np.testing.assert_allclose(mirrored[:, perm] * [-1.0, 1.0, 1.0], out, atol=1e-5)


def test_complete_3d_anchored_or_choosing_per_gap(backend, pose2sim_trial):
    poses = pose2sim_trial.cameras["cam_01"].to_camera(pose2sim_trial.anim19(pose2sim_trial.world))[:120]
    skel = backend.config.skel
    visible = np.isfinite(poses).all(-1)
    visible[30:45, skel.limb_indices("left_arm")] = False  # a lost arm, seen before and after
    visible[70:76, skel.index("right_knee")] = False
    holes = np.where(visible[..., None], poses, np.nan)
    raw = complete_3d(backend, holes, visible, anchor=False)
    anchored = complete_3d(backend, holes, visible)  # anchored by default
    assert np.array_equal(anchored[visible], poses[visible])
    shift = (anchored - raw)[30:45, skel.index("left_wrist")]
    assert np.abs(shift).max() > 1e-4
    np.testing.assert_allclose(np.diff(shift, 2, axis=0), 0.0, atol=1e-5)  # a straight line in time
    best = complete_3d(backend, holes, visible, choose_per_gap=True)
    assert np.array_equal(best[visible], poses[visible]) and np.isfinite(best).all()
    fills = (anchored, fill_interpolate(holes, visible), fill_mirrored(holes, visible, skel))
    for gap in interior_gaps(visible):
        rows = slice(gap.start, gap.stop)
        assert any(np.allclose(best[rows, gap.joint], f[rows, gap.joint], atol=1e-6) for f in fills), gap


def test_complete_2d_fills_gaps_in_pixels(backend, clip):
    points, conf, fps = clip
    visible = np.isfinite(points).all(-1) & (conf > 0.3)
    visible[30:40, 13] = False  # a gap in the left wrist track
    out = complete_2d(backend, np.where(visible[..., None], points, np.nan), visible, SIZE, fps=fps)
    assert np.array_equal(out[visible], points[visible])
    assert np.isfinite(out).all() and out.dtype == np.float32
    # anchoring shifts the filled stretch by the model's error beside the gap, interpolated
    # linearly across it: the shift is a straight line in time, and not zero
    raw = complete_2d(backend, np.where(visible[..., None], points, np.nan), visible, SIZE, fps=fps, anchor=False)
    assert np.array_equal(raw[visible], points[visible])
    assert visible[29, 13] and visible[40, 13]  # the gap 30-39 is bordered by tracked frames
    shift = (out - raw)[30:40, 13]
    assert np.abs(shift).max() > 1e-3
    np.testing.assert_allclose(np.diff(shift, 2, axis=0), 0.0, atol=1e-3)


def test_complete_2d_choosing_per_gap_fills_each_gap_by_the_model_or_by_interpolation(backend, clip):
    points, conf, fps = clip
    visible = np.isfinite(points).all(-1) & (conf > 0.3)
    visible[30:40, 13] = False
    visible[50:56, 7] = False
    holes = np.where(visible[..., None], points, np.nan)
    out = complete_2d(backend, holes, visible, SIZE, fps=fps, choose_per_gap=True)
    assert np.array_equal(out[visible], points[visible])
    assert np.isfinite(out).all() and out.dtype == np.float32
    by_model = complete_2d(backend, holes, visible, SIZE, fps=fps)
    by_line = fill_interpolate(holes, visible)
    for gap in interior_gaps(visible):
        rows = slice(gap.start, gap.stop)
        filled = out[rows, gap.joint]
        assert np.allclose(filled, by_model[rows, gap.joint], atol=1e-4) or np.allclose(filled, by_line[rows, gap.joint], atol=1e-4)


def test_onnxruntime_and_torch_agree_through_the_runtime(backend, tiny_onnx_set, clip):
    points, conf, fps = clip
    ort_backend = load_backend(tiny_onnx_set)
    for mode in ("fast", "accurate"):
        a = lift(backend, points, conf, SIZE, fps=fps, mode=mode)
        b = lift(ort_backend, points, conf, SIZE, fps=fps, mode=mode)
        assert np.abs(a - b).max() < 1e-4


def test_memory_stays_bounded_on_a_100000_frame_clip(tiny_onnx_set):
    backend = load_backend(tiny_onnx_set)
    j = backend.config.num_joints
    frames = 100_000
    rng = np.random.default_rng(5)
    base = rng.uniform(300, 700, size=(1, j, 2)).astype(np.float32)
    points = base + rng.normal(scale=3.0, size=(frames, j, 2)).astype(np.float32)
    output_bytes = frames * j * 3 * 4
    tracemalloc.start()
    out = lift(backend, points, None, (1000, 1000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out.shape == (frames, j, 3) and np.isfinite(out).all()
    # Input copies, mask, output and accumulators scale with the clip; windows only with the batch.
    assert peak < 3 * output_bytes, f"peak {peak / 1e6:.0f} MB for a {output_bytes / 1e6:.0f} MB output"
