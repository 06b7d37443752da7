"""Virtual cameras, projection, the detector-noise model and augmentation helpers."""
from __future__ import annotations

import numpy as np
import pytest

from engine.coords import normalize_screen
from engine.skeleton import get_skeleton
from tests.conftest import require_shared_data
from training.data.cameras import (
    CALIBRATION, CameraProtocol, DetectorNoise, camera_at, cameras_at, distort, flip_points, flip_positions,
    random_bone_factors, read_pose2sim_calibration, rodrigues, sample_camera, sample_cameras, scale_bones,
)

SKEL = get_skeleton("anim19")
J = SKEL.index


def standing_person() -> np.ndarray:
    """(1, 19, 3) a person facing -Y (Blender's front view), left at +X, Z up."""
    p = np.zeros((19, 3))
    table = {"pelvis": (0, 0, 1.0), "right_hip": (-0.1, 0, 0.95), "right_knee": (-0.1, 0, 0.5), "right_ankle": (-0.1, 0, 0.08),
             "left_hip": (0.1, 0, 0.95), "left_knee": (0.1, 0, 0.5), "left_ankle": (0.1, 0, 0.08), "spine": (0, 0, 1.25),
             "thorax": (0, 0, 1.5), "neck": (0, 0, 1.6), "head": (0, 0, 1.75), "left_shoulder": (0.18, 0, 1.45),
             "left_elbow": (0.2, 0, 1.15), "left_wrist": (0.22, 0, 0.9), "right_shoulder": (-0.18, 0, 1.45),
             "right_elbow": (-0.2, 0, 1.15), "right_wrist": (-0.22, 0, 0.9), "right_toe": (-0.1, -0.15, 0.0),
             "left_toe": (0.1, -0.15, 0.0)}
    for name, xyz in table.items():
        p[J(name)] = xyz
    return p[None]


def test_front_camera_sees_the_persons_left_on_the_image_right():
    person = standing_person()
    cam = camera_at(person[0, J("pelvis")], azimuth_deg=0, elevation_deg=0, distance=4.0, fov_deg=60)
    np.testing.assert_allclose(cam.position, [0, -4, 1], atol=1e-9)
    px = cam.project(person[0])
    np.testing.assert_allclose(px[J("pelvis")], [500, 500], atol=1e-6)
    assert px[J("left_hip"), 0] > 500 > px[J("right_hip"), 0]  # mirror view of someone facing us
    assert px[J("head"), 1] < px[J("pelvis"), 1] < px[J("left_ankle"), 1]  # y down
    np.testing.assert_allclose(cam.camera_to_world(cam.world_to_camera(person[0])), person[0], atol=1e-9)
    # Azimuth 90 stands at +X; positive elevation looks down from above.
    side = camera_at(np.zeros(3), 90, 30, 2.0, 60)
    assert side.position[0] > 1.5 and side.position[2] == pytest.approx(1.0)


def test_sampled_cameras_follow_the_protocol():
    rng = np.random.default_rng(0)
    person = np.repeat(standing_person(), 5, axis=0)
    protocol = CameraProtocol()
    fills = []
    for _ in range(200):
        cam = sample_camera(person, rng, protocol)
        px = cam.project(person)
        assert np.isfinite(px).all()
        fills.append((px[..., 1].max() - px[..., 1].min()) / protocol.image_size[1])
        # Inside the image, up to a few per cent at the largest fill plus the aim jitter (as in footage).
        assert np.abs(normalize_screen(px, *protocol.image_size)).max() <= 1.1
        fov = np.degrees(2 * np.arctan(protocol.image_size[0] / 2 / cam.focal[0]))
        assert 40 - 1e-6 <= fov <= 80 + 1e-6
        looks_down = np.degrees(-np.arcsin(cam.rotation[2, 2]))  # optical axis below the horizon
        assert -10 - 1e-6 <= looks_down <= 30 + 1e-6
    fills = np.array(fills)
    assert 0.39 < fills.min() and fills.max() < 0.91 and 0.55 < np.median(fills) < 0.75


def _image_roll_deg(cam, person) -> float:
    """Angle of the person's pelvis -> thorax line from the image's up, counter-clockwise positive."""
    px = cam.project(person[0])
    d = px[J("thorax")] - px[J("pelvis")]
    return float(np.degrees(np.arctan2(-d[0], -d[1])))


def test_camera_roll_turns_the_image_about_the_optical_axis():
    person = standing_person()
    level = camera_at(person[0, J("pelvis")], 0, 0, 4.0, 60)
    rolled = camera_at(person[0, J("pelvis")], 0, 0, 4.0, 60, roll_deg=20.0)
    assert _image_roll_deg(level, person) == pytest.approx(0.0, abs=1e-6)
    assert _image_roll_deg(rolled, person) == pytest.approx(20.0, abs=1e-6)
    np.testing.assert_allclose(rolled.position, level.position, atol=1e-12)  # same place, same optical axis
    np.testing.assert_allclose(rolled.rotation[2], level.rotation[2], atol=1e-12)
    rng = np.random.default_rng(1)
    people = np.repeat(person, 3, axis=0)
    rolls = [_image_roll_deg(sample_camera(people, rng, CameraProtocol(roll_deg=(-15.0, 15.0), elevation_deg=(0.0, 0.0))), person)
             for _ in range(100)]
    assert -15.5 < min(rolls) < -10 and 10 < max(rolls) < 15.5


def test_rodrigues_and_distortion():
    np.testing.assert_allclose(rodrigues([0, 0, np.pi / 2]) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    uv = np.array([[0.1, -0.2]])
    np.testing.assert_array_equal(distort(uv, np.zeros(4)), uv)
    r2 = 0.05
    np.testing.assert_allclose(distort(uv, [0.1, 0, 0, 0]), uv * (1 + 0.1 * r2))


def test_pose2sim_calibration_reprojects_the_triangulation():
    """The calibration conventions (Rodrigues, x_cam = R x + t) reproduce the detections."""
    from training.data.noise_calibration import BODY_25B, read_openpose_folder, trc_keypoint_name, trc_to_calibration_world
    from training.data.trc import read_trc

    session = require_shared_data("pose2sim_demo", "S00_Demo_Session")
    trial = session / "S00_P00_SingleParticipant" / "S00_P00_T01_BalancingTrial"
    cams = read_pose2sim_calibration(session / "S00_Calibration" / "Calib_qualisys.toml")
    assert sorted(cams) == ["cam_01", "cam_02", "cam_03", "cam_04"] and cams["cam_01"].image_size == (1088, 1920)
    dets = {k: read_openpose_folder(trial / "pose-associated" / f"{k.replace('_', '')}_json") for k in cams}
    trc = read_trc(next(p for p in (trial / "pose-3d").glob("*.trc") if "filt" not in p.name))
    assert trc.fps == 60 and trc.positions.shape == (100, 21, 3)
    world = trc_to_calibration_world(trc.positions, cams, dets, trc.markers)
    idx = [BODY_25B.index(trc_keypoint_name(m)) for m in trc.markers]
    for key, cam in cams.items():
        det = dets[key][:, idx]
        good = det[..., 2] >= 0.3
        err = np.linalg.norm(cam.project(world) - det[..., :2], axis=-1)[good]
        assert np.median(err) < 20, key  # px, for a person ~700 px high


def test_noise_calibration_matches_the_defaults():
    from training.data.noise_calibration import measure

    session = require_shared_data("pose2sim_demo", "S00_Demo_Session")
    result = measure(session / "S00_P00_SingleParticipant" / "S00_P00_T01_BalancingTrial",
                     session / "S00_Calibration" / "Calib_qualisys.toml")
    for joint, row in result["joints"].items():
        assert row["jitter"] == pytest.approx(CALIBRATION[joint]["jitter"], abs=2e-4), joint
        assert row["drift"] == pytest.approx(CALIBRATION[joint]["drift"], abs=2e-4), joint
    jitter_px = np.median([row["jitter"] for row in result["joints"].values()]) * 730
    assert 1.5 < jitter_px < 5.0  # a few pixels on a ~730 px person


def test_noise_model_levels_confidence_and_dropouts():
    rng = np.random.default_rng(1)
    clean = np.repeat(camera_at(np.array([0, 0, 1.0]), 0, 0, 4, 60).project(standing_person()[0])[None], 400, 0)
    height = clean[0, :, 1].max() - clean[0, :, 1].min()
    noise = DetectorNoise(level=(1.0, 1.0), occlusion_prob=0.0, drift={}, default_drift=0.0)
    noisy, conf = noise.apply(clean, rng)
    resid = (noisy - clean)[:, J("left_knee")]
    ok = np.isfinite(resid).all(-1)
    assert np.std(resid[ok]) / height == pytest.approx(CALIBRATION["left_knee"]["jitter"], rel=0.15)
    assert conf.shape == (400, 19) and (conf[ok.nonzero()[0], J("left_knee")] >= 0.3).all()
    assert abs(conf[:, J("right_wrist")].mean() - CALIBRATION["right_wrist"]["confidence"]) < 0.05
    # Dropouts: NaN with confidence 0, at about the configured rate.
    drop = DetectorNoise(dropout={j: 0.2 for j in SKEL.joints}, occlusion_prob=0.0)
    noisy, conf = drop.apply(clean, rng)
    missing = ~np.isfinite(noisy).all(-1)
    assert (conf[missing] == 0).all() and 0.15 < missing.mean() < 0.25
    # Occlusion: one whole limb missing over a run of frames.
    occl = DetectorNoise(occlusion_prob=1.0, dropout={}, default_dropout=0.0)
    noisy, _ = occl.apply(clean[:50], np.random.default_rng(3))
    missing = ~np.isfinite(noisy).all(-1)
    limbs = [SKEL.limb_indices(n) for n in ("right_leg", "left_leg", "right_arm", "left_arm")]
    assert any(missing[:, l].all(1).any() and missing.sum() == missing[:, l].sum() for l in limbs)


def test_flip_and_bone_scaling_reproject_consistently():
    rng = np.random.default_rng(2)
    person = standing_person()
    flipped = flip_positions(person)
    np.testing.assert_allclose(flipped[0, J("left_hip")], [0.1, 0, 0.95])  # the old right hip, mirrored
    np.testing.assert_allclose(flip_positions(flipped), person)
    cam = camera_at(np.array([0, 0, 1.0]), 0, 0, 4, 60)  # principal point at the image centre
    np.testing.assert_allclose(cam.project(flipped), flip_points(cam.project(person), 1000), atol=1e-9)

    factors = random_bone_factors(SKEL, 0.1, rng)
    assert factors[SKEL.root] == 1.0 and factors[J("left_knee")] == factors[J("right_knee")]
    scaled = scale_bones(person, factors)
    np.testing.assert_allclose(scaled[0, SKEL.root], person[0, SKEL.root])
    for parent, child in SKEL.bones:
        before = np.linalg.norm(person[0, child] - person[0, parent])
        after = np.linalg.norm(scaled[0, child] - scaled[0, parent])
        assert after == pytest.approx(before * factors[child])
    px = cam.project(scaled)
    assert np.isfinite(px).all() and not np.allclose(px, cam.project(person))
    person_nan = person.copy()
    person_nan[0, J("head")] = np.nan
    assert np.isnan(scale_bones(person_nan, factors)[0, J("head")]).all()


def _crowd(n: int, frames: int = 9) -> np.ndarray:
    """(n, frames, 19, 3) people of different sizes standing at different places."""
    rng = np.random.default_rng(5)
    size = rng.uniform(0.6, 1.3, n)[:, None, None, None]
    place = np.concatenate([rng.uniform(-3, 3, (n, 2)), np.zeros((n, 1))], axis=1)[:, None, None, :]
    return np.repeat(standing_person()[None], n, axis=0).repeat(frames, axis=1) * size + place


def test_batched_cameras_are_the_single_cameras():
    rng = np.random.default_rng(4)
    n = 16
    target, az, el = rng.normal(size=(n, 3)), rng.uniform(0, 360, n), rng.uniform(-10, 30, n)
    dist, fov, roll = rng.uniform(2, 8, n), rng.uniform(40, 80, n), rng.uniform(-20, 20, n)
    batch = cameras_at(target, az, el, dist, fov, (1920, 1080), roll)
    points = rng.normal(size=(n, 5, 19, 3)) + target[:, None, None]
    px = batch.project(points)
    for i in range(n):
        one = camera_at(target[i], az[i], el[i], dist[i], fov[i], (1920, 1080), roll[i])
        np.testing.assert_allclose(batch.camera(i).rotation, one.rotation, atol=1e-12)
        np.testing.assert_allclose(px[i], one.project(points[i]), atol=1e-9)


def test_batched_sampling_frames_each_window_by_its_own_draw():
    crowd = _crowd(300)
    protocol = CameraProtocol(fill=(0.3, 0.8), aim_jitter=0.0)
    cams = sample_cameras(crowd, np.random.default_rng(0), protocol)
    px = cams.project(crowd)
    fills = (px[..., 1].max((1, 2)) - px[..., 1].min((1, 2))) / protocol.image_size[1]
    centres = (px.max((1, 2)) + px.min((1, 2))) / 2
    assert 0.29 < fills.min() and fills.max() < 0.81 and fills.std() > 0.1  # each its own fill
    np.testing.assert_allclose(centres, 500.0, atol=5.0)  # every window centred, wherever it stands
    # A window drawn alone from the same random state gets the same camera.
    alone = sample_camera(crowd[7], np.random.default_rng(11), protocol)
    again = sample_cameras(crowd[7:8], np.random.default_rng(11), protocol).camera(0)
    np.testing.assert_allclose(alone.rotation, again.rotation)
    np.testing.assert_allclose(alone.translation, again.translation)


def test_batched_noise_draws_a_level_and_an_occlusion_per_window():
    clean = camera_at(np.array([0, 0, 1.0]), 0, 0, 4, 60).project(standing_person()[0])
    windows = np.repeat(np.repeat(clean[None, None], 30, axis=1), 200, axis=0)  # (200, 30, 19, 2)
    noise = DetectorNoise(level=(0.5, 2.0), occlusion_prob=0.5, dropout={}, default_dropout=0.0)
    noisy, conf = noise.apply_batch(windows, np.random.default_rng(2))
    assert noisy.shape == windows.shape and conf.shape == windows.shape[:3]
    spread = np.nanstd(noisy - windows, axis=(1, 2, 3))
    assert spread.max() > 2.5 * spread.min()  # levels differ between windows
    occluded = (~np.isfinite(noisy).all(-1)).any(axis=(1, 2))  # windows with a limb hidden
    assert 0.35 < occluded.mean() < 0.65


def test_batched_bone_factors_scale_each_window_its_own_way():
    crowd = _crowd(4)
    factors = random_bone_factors(SKEL, 0.1, np.random.default_rng(3), count=4)
    assert factors.shape == (4, 19) and (factors[:, SKEL.root] == 1.0).all()
    scaled = scale_bones(crowd, factors)
    for i in range(4):
        np.testing.assert_allclose(scaled[i], scale_bones(crowd[i], factors[i]), atol=1e-12)
