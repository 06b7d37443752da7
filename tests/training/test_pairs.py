import numpy as np
import pytest

from engine.skeleton import get_skeleton
from .motion_synthetic import synthetic_clips
from training.data.cameras import CameraProtocol, DetectorNoise, camera_at
from training.pairs import AugmentConfig, MixedBatches, MotionPairs, Windows

SKEL = get_skeleton("anim19")


def test_windows_repeat_edge_frames():
    w = Windows([5, 3], num_frames=5)
    assert len(w) == 8
    idx = w.frame_index(np.array([0, 5, 7]))
    assert idx[0].tolist() == [0, 0, 0, 1, 2]
    assert idx[1].tolist() == [5, 5, 5, 6, 7]  # the second sequence starts at frame 5
    assert idx[2].tolist() == [5, 6, 7, 7, 7]  # centre = its last frame


def _pairs(augment=AugmentConfig(flip_prob=0.0), cameras=(CameraProtocol(),)):
    return MotionPairs(synthetic_clips({"01": 2}, frames=40), "anim19", 27, 30.0, cameras, augment)


def test_truncated_joints_are_undetected():
    close = CameraProtocol(fill=(1.6, 1.8), image_size=(1920, 1080))  # taller than the frame
    batch = _pairs(cameras=(close,)).make(np.arange(6), np.random.default_rng(0))
    assert batch["target_valid_2d"].all()  # the targets keep every joint
    assert 0.05 < 1 - batch["valid_2d"].mean() < 0.95  # a landscape close-up cuts off the legs or head


def test_pairs_are_consistent_projections_of_root_relative_3d():
    pairs = _pairs(cameras=(CameraProtocol(image_size=(1080, 1920)), CameraProtocol(image_size=(1920, 1080))))
    batch = pairs.make(np.arange(6), np.random.default_rng(0), augment=False)
    p3, p2 = batch["pose_3d"], batch["pose_2d"]
    assert np.allclose(p3[:, :, SKEL.root], 0.0)
    assert batch["valid_3d"].all() and batch["has_3d"].all()
    # The 2D joints keep the 3D's image geometry: bone directions in the image agree with
    # the camera-space bone directions (x right, y down) up to perspective.
    limb = SKEL.index("right_wrist"), SKEL.index("right_elbow")
    d3 = p3[..., limb[0], :2] - p3[..., limb[1], :2]
    d2 = p2[..., limb[0], :] - p2[..., limb[1], :]
    cos = (d3 * d2).sum(-1) / np.linalg.norm(d3, axis=-1) / np.linalg.norm(d2, axis=-1)
    assert np.median(cos) > 0.95
    assert np.abs(p2).max() < 4.0  # a whole person within a few image widths of the centre
    # the person fills 40-90 % of the image height: portrait frames give taller people
    height = p2[..., 1].max(-1) - p2[..., 1].min(-1)
    assert 0.3 < np.median(height) < 3.5


def test_flip_mirrors_x_and_swaps_sides():
    pairs = _pairs()
    rows = np.arange(4)
    plain = pairs.make(rows, np.random.default_rng(3), augment=False)
    flipped = MotionPairs(synthetic_clips({"01": 2}, frames=40), "anim19", 27, 30.0, (CameraProtocol(),), AugmentConfig(flip_prob=1.0))
    mirrored = flipped.make(rows, np.random.default_rng(3))
    perm = SKEL.flip_permutation
    # same camera draws (no bone scale, no noise): only the flip differs
    assert np.allclose(mirrored["pose_3d"][..., 0], -plain["pose_3d"][:, :, perm, 0], atol=1e-5)
    assert np.allclose(mirrored["pose_3d"][..., 1:], plain["pose_3d"][:, :, perm, 1:], atol=1e-5)
    assert np.allclose(mirrored["target_2d"][..., 0], -plain["target_2d"][:, :, perm, 0], atol=1e-5)


def test_bone_scaling_changes_bone_lengths():
    plain = _pairs().make(np.arange(4), np.random.default_rng(0), augment=False)
    scaled = _pairs(AugmentConfig(flip_prob=0.0, bone_scale=0.1)).make(np.arange(4), np.random.default_rng(0))
    knee, ankle = SKEL.index("right_knee"), SKEL.index("right_ankle")
    shin = lambda b: np.linalg.norm(b["pose_3d"][:, 0, knee] - b["pose_3d"][:, 0, ankle], axis=-1)  # noqa: E731
    assert not np.allclose(shin(plain), shin(scaled), rtol=1e-3)


def test_calibrated_noise_corrupts_input_but_not_targets():
    pairs = _pairs(AugmentConfig(flip_prob=0.0, noise=DetectorNoise(level=(1.0, 1.0), occlusion_prob=0.0)))
    batch = pairs.make(np.arange(8), np.random.default_rng(0))
    both = batch["valid_2d"] & batch["target_valid_2d"]
    err = np.linalg.norm(batch["pose_2d"] - batch["target_2d"], axis=-1)[both]
    height = np.median(batch["target_2d"][..., 1].max(-1) - batch["target_2d"][..., 1].min(-1))
    # jitter about 0.4 % and drift about 0.7 % of the person's height (the Pose2Sim calibration)
    assert 0.003 < np.median(err) / height < 0.02
    assert batch["target_valid_2d"].all()
    clean = _pairs().make(np.arange(8), np.random.default_rng(0))
    assert np.allclose(clean["pose_2d"], clean["target_2d"])


def test_mixed_batches_are_reproducible_mixed_and_split_by_rank():
    a, b = _pairs(), MotionPairs(synthetic_clips({"02": 1}, frames=30, seed=5), "anim19", 27, 30.0)
    mix = MixedBatches([a, b], [3.0, 1.0], batch_size=8, seed=0)
    assert mix.shares.tolist() == [6, 2]
    first, again = mix.batch(0, 1), mix.batch(0, 1)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert first["pose_3d"].shape[0] == 8
    assert not np.array_equal(mix.batch(1, 1)["pose_3d"], first["pose_3d"])
    two = MixedBatches([a], [1.0], batch_size=8, seed=0, world=2)
    rows0, rows1 = two.rows(0, 0, 0, 0), two.rows(0, 0, 1, 0)
    assert len(rows0) == 4 and not set(rows0) & set(rows1)
    with pytest.raises(ValueError, match="divisible"):
        MixedBatches([a], [1.0], batch_size=7, seed=0, world=2)


def test_cameras_stay_plausible_for_a_person_crossing_the_room():
    from training.data import MotionClip

    walk = synthetic_clips({"01": 1}, frames=81)[0].positions
    walk = walk + np.linspace(0, 6.0, 81)[:, None, None] * np.array([0.0, 1.0, 0.0])  # 6 m in 2.7 s
    clip = MotionClip(positions=walk, fps=30.0, subject="01", clip="run", source="synthetic")
    pairs = MotionPairs([clip], "anim19", 81, 30.0, (CameraProtocol(fill=(0.8, 0.9)),), AugmentConfig(flip_prob=0.0))
    batch = pairs.make(np.full(64, 40), np.random.default_rng(0))
    assert np.abs(batch["target_2d"]).max() < 4.0
    assert batch["target_valid_2d"].mean() > 0.95


def test_view_centred_windows_are_what_the_engine_lifts():
    """With view_centring each window is re-projected into a camera aimed at its detected
    joints: the same camera draws, the 3D turned by one rotation per window, the 2D aimed
    at the box of the detected joints, as engine.perspective does at inference."""
    clips = synthetic_clips({"01": 2}, frames=40)
    jitter = CameraProtocol(aim_jitter=0.3)  # people well off-centre in the drawn cameras
    plain = MotionPairs(clips, "anim19", 27, 30.0, (jitter,), AugmentConfig(flip_prob=0.0))
    centred = MotionPairs(clips, "anim19", 27, 30.0, (jitter,), AugmentConfig(flip_prob=0.0), view_centring=True)
    rows = np.arange(6)
    a, b = plain.make(rows, np.random.default_rng(5), augment=False), centred.make(rows, np.random.default_rng(5), augment=False)
    np.testing.assert_array_equal(a["valid_2d"], b["valid_2d"])
    # One rotation per window maps the plain 3D onto the centred 3D (bone lengths kept).
    for k in rows:
        u, _, vt = np.linalg.svd(b["pose_3d"][k].reshape(-1, 3).T @ a["pose_3d"][k].reshape(-1, 3))
        turn = u @ vt
        assert np.allclose(a["pose_3d"][k] @ turn.T, b["pose_3d"][k], atol=1e-4)
        assert np.degrees(np.arccos(np.clip((np.trace(turn) - 1) / 2, -1, 1))) > 0.5  # and it is not the identity
    # The box of the detected joints: off-centre before, on the axis after (up to perspective).
    def box_centre(batch):
        pts = np.where(batch["valid_2d"][..., None], batch["pose_2d"], np.nan).reshape(len(rows), -1, 2)
        return (np.nanmin(pts, 1) + np.nanmax(pts, 1)) / 2
    off, on = np.abs(box_centre(a)).max(), np.abs(box_centre(b)).max()
    assert off > 0.3 and on < 0.1 * off, (off, on)


def test_speed_augmentation_plays_windows_faster_or_slower():
    w = Windows([10, 20], num_frames=5)
    pos = w.frame_position(np.array([0, 15]), np.array([1.0, 2.0]))
    assert pos[0].tolist() == [0, 0, 0, 1, 2]  # speed 1: the plain window, edges repeated
    assert pos[1].tolist() == [11, 13, 15, 17, 19]  # twice as fast: every other frame of sequence 2
    pairs = _pairs()
    frames = pairs.frames.astype(np.float64)
    rows = np.array([13])
    half_speed = pairs.world_windows(rows, np.array([0.5]))[0]
    centre = pairs.windows.frame_index(rows)[0, 13]
    # half speed: frames centre, centre + 0.5, centre + 1, ... (interpolated between stored frames)
    assert np.allclose(half_speed[13], frames[centre])
    assert np.allclose(half_speed[14], 0.5 * (frames[centre] + frames[centre + 1]))
    assert np.allclose(half_speed[15], frames[centre + 1])
    # the config draws one speed per window within [low, high]
    fast = _pairs(AugmentConfig(flip_prob=0.0, speed=(2.0, 2.0))).make(np.arange(4), np.random.default_rng(0))
    plain = _pairs().make(np.arange(4), np.random.default_rng(0))
    assert fast["pose_3d"].shape == plain["pose_3d"].shape and np.isfinite(fast["pose_3d"]).all()
    step = lambda b: np.linalg.norm(np.diff(b["pose_3d"][:, 10:16], axis=1), axis=-1).mean()  # noqa: E731
    assert step(fast) > 1.5 * step(plain)  # joints move twice as far per frame


def test_speed_augmentation_plays_camera_and_2d_only_windows_too():
    """The paper layouts' camera pairs and 2D-only tracks take ``[augment] speed`` like motion
    windows: 2D and 3D interpolated alike, a frame between a labelled and an unlabelled one
    unlabelled, a joint between a detection and a gap undetected."""
    from training.pairs import CameraPairs, Keypoint2DPairs

    frames, j = 40, SKEL.num_joints
    t = np.arange(frames, dtype=np.float32)
    pose_3d = np.zeros((frames, j, 3), np.float32)
    pose_3d[:, 1:, 0] = 0.01 * t[:, None]  # every non-root joint slides 1 cm a frame
    pose_3d[..., 2] = 4.0
    pose_2d = np.zeros((frames, j, 2), np.float32)
    pose_2d[..., 0] = 500.0 + 2.0 * t[:, None]  # 2 px a frame
    pose_2d[..., 1] = 500.0
    valid = np.ones(frames, bool)
    valid[21] = False
    seq = {"pose_3d": pose_3d, "pose_2d": pose_2d, "image_size": (1000, 1000), "fps": 30.0, "valid": valid, "name": "s"}
    rows = np.array([20])  # the window centred on frame 20
    rng = np.random.default_rng(0)
    plain = CameraPairs([seq], SKEL, 27, 30.0, AugmentConfig(flip_prob=0.0)).make(rows, rng)
    half = CameraPairs([seq], SKEL, 27, 30.0, AugmentConfig(flip_prob=0.0, speed=(0.5, 0.5))).make(rows, rng)
    # half speed: the window spans frames 13.5 .. 26.5, half a frame per step
    assert np.allclose(np.diff(half["pose_2d"][0, :, 1, 0]), 0.5 * np.diff(plain["pose_2d"][0, :, 1, 0]), atol=1e-6)
    assert np.allclose(np.diff(half["pose_3d"][0, :, 1, 0]), 0.005, atol=1e-6)
    # frame 21 has no 3D label, nor have the steps between 20 and 21 and between 21 and 22
    assert half["valid_3d"][0, :, 1].tolist() == [True] * 14 + [False] * 3 + [True] * 10
    assert plain["valid_3d"][0, :, 1].tolist() == [True] * 14 + [False] + [True] * 12
    points = pose_2d.copy()
    points[21, 3] = np.nan  # one joint missed by the detector in frame 21
    track = {"points": points, "image_size": (1000, 1000), "fps": 30.0}
    only_2d = Keypoint2DPairs([track], SKEL, 27, 30.0, AugmentConfig(flip_prob=0.0, speed=(0.5, 0.5))).make(rows, rng)
    assert only_2d["valid_2d"][0, :, 3].tolist() == [True] * 14 + [False] * 3 + [True] * 10
    assert only_2d["valid_2d"][0, :, 2].all()
    assert np.allclose(np.diff(only_2d["pose_2d"][0, :, 2, 0]), np.diff(half["pose_2d"][0, :, 2, 0]), atol=1e-6)
