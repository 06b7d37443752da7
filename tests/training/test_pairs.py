import numpy as np
import pytest

from engine.coords import normalize_screen
from engine.skeleton import get_skeleton
from motion_synthetic import synthetic_clips
from training.cameras import CameraProtocol, cameras_at, project, to_camera
from training.pairs import AugmentConfig, MixedBatches, MotionPairs, Windows, scale_bones, symmetric_bone_factors

SKEL = get_skeleton("anim19")


def test_front_camera_sees_blender_front_view():
    # A camera at azimuth 0 stands at -Y looking along +Y: world +X is image right, +Z is image up.
    cams = cameras_at(np.zeros((1, 3)), np.array([0.0]), np.array([0.0]), np.array([4.0]), np.array([60.0]), (1000, 1000))
    pts = np.array([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]])
    cam = to_camera(pts, cams)
    assert np.allclose(cam[0, 0], [1, 0, 4], atol=1e-6) and np.allclose(cam[0, 1], [0, -1, 4], atol=1e-6)
    px = project(cam, cams)
    assert np.allclose(px[0, 2], [500, 500]) and px[0, 0, 0] > 500 and px[0, 1, 1] < 500


def test_row_normalisation_matches_engine_coords():
    from training.cameras import normalize_rows

    px = np.array([[[100.0, 50.0]], [[1000.0, 1900.0]]])
    size = np.array([[1920.0, 1080.0], [1080.0, 1920.0]])
    out = normalize_rows(px, size)
    assert np.allclose(out[0], normalize_screen(px[0], 1920, 1080))
    assert np.allclose(out[1], normalize_screen(px[1], 1080, 1920))


def test_windows_repeat_edge_frames():
    w = Windows([5, 3], num_frames=5)
    assert len(w) == 8
    idx = w.frame_index(np.array([0, 5, 7]))
    assert idx[0].tolist() == [0, 0, 0, 1, 2]
    assert idx[1].tolist() == [5, 5, 5, 6, 7]  # the second sequence starts at frame 5
    assert idx[2].tolist() == [5, 6, 7, 7, 7]  # centre = its last frame


SQUARE = CameraProtocol(image_sizes=((1000, 1000),), distance_m=(4.0, 6.0))


def _pairs(augment=AugmentConfig(flip_prob=0.0), cameras=SQUARE):
    return MotionPairs(synthetic_clips({"01": 2}, frames=40), "anim19", 27, 30.0, cameras, augment)


def test_truncated_joints_are_undetected():
    close = CameraProtocol(distance_m=(1.0, 1.2), fov_deg=(25.0, 25.0), image_sizes=((1920, 1080),))
    batch = _pairs(cameras=close).make(np.arange(6), np.random.default_rng(0))
    assert batch["target_valid_2d"].all()  # the targets keep every joint
    assert 0.05 < 1 - batch["valid_2d"].mean() < 0.95  # a landscape close-up cuts off the legs or head


def test_pairs_are_consistent_projections_of_root_relative_3d():
    pairs = _pairs(cameras=CameraProtocol())
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


def test_flip_mirrors_x_and_swaps_sides():
    pairs = _pairs()
    rows = np.arange(4)
    plain = pairs.view(pairs.world_windows(rows), _cams(pairs, rows), None)
    flipped = pairs.view(pairs.world_windows(rows), _cams(pairs, rows), None, flip=np.ones(4, bool))
    perm = SKEL.flip_permutation
    assert np.allclose(flipped["pose_3d"][..., 0], -plain["pose_3d"][:, :, perm, 0], atol=1e-6)
    assert np.allclose(flipped["pose_3d"][..., 1:], plain["pose_3d"][:, :, perm, 1:], atol=1e-6)
    assert np.allclose(flipped["pose_2d"][..., 0], -plain["pose_2d"][:, :, perm, 0], atol=1e-6)


def _cams(pairs, rows):
    world = pairs.world_windows(rows)
    from training.cameras import sample_cameras

    return sample_cameras(pairs.cameras, world[:, :, SKEL.root], np.random.default_rng(1))


def test_bone_scaling_scales_bones_and_keeps_symmetry():
    world = _pairs().world_windows(np.arange(3))
    factors = symmetric_bone_factors(SKEL, 0.1, np.random.default_rng(0), 3)
    assert np.allclose(factors, factors[:, SKEL.flip_permutation])
    scaled = scale_bones(world, SKEL, factors)
    for parent, child in SKEL.bones:
        before = np.linalg.norm(world[:, :, child] - world[:, :, parent], axis=-1)
        after = np.linalg.norm(scaled[:, :, child] - scaled[:, :, parent], axis=-1)
        assert np.allclose(after, before * factors[:, None, child], rtol=1e-4)


def test_noise_corrupts_input_but_not_targets():
    from training.cameras import NoiseConfig

    pairs = _pairs(AugmentConfig(flip_prob=0.0, noise=NoiseConfig(jitter_px=(2.0, 2.0), dropout=0.1)))
    batch = pairs.make(np.arange(8), np.random.default_rng(0))
    err_px = np.linalg.norm(batch["pose_2d"] - batch["target_2d"], axis=-1)[batch["valid_2d"]] * 500
    assert 1.5 < err_px.mean() < 3.5  # Rayleigh mean of sigma 2 px = 2.5 px (1000 px wide images)
    assert 0.05 < 1 - batch["valid_2d"].mean() < 0.15
    assert batch["target_valid_2d"].all()


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
