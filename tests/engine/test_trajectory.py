"""Root trajectory by perspective least squares, checked on the real Pose2Sim session."""
from __future__ import annotations

import numpy as np
import pytest

from engine.trajectory import camera_intrinsics, estimate_root_trajectory, solve_translation
from engine.validate import InputError


def test_exact_on_noise_free_projections():
    rng = np.random.default_rng(0)
    pose = rng.normal(scale=0.4, size=(20, 17, 3))
    pose -= pose[:, :1]
    t = np.stack([rng.uniform(-1, 1, 20), rng.uniform(-0.5, 0.5, 20), rng.uniform(2, 8, 20)], -1)
    K = (1500.0, 1480.0, 960.0, 540.0)
    cam = pose + t[:, None]
    px = np.stack([K[0] * cam[..., 0] / cam[..., 2] + K[2], K[1] * cam[..., 1] / cam[..., 2] + K[3]], -1)
    np.testing.assert_allclose(solve_translation(px, pose, np.ones(px.shape[:2]), K), t, atol=1e-6)
    # a frame with one usable joint is interpolated from its neighbours
    px[5, 1:] = np.nan
    est = estimate_root_trajectory(px, pose, intrinsics=K, filter="none")
    np.testing.assert_allclose(est[[4, 6]], t[[4, 6]], atol=1e-5)
    np.testing.assert_allclose(est[5], (t[4] + t[6]) / 2, atol=1e-5)


@pytest.mark.parametrize("camera", ["cam_01", "cam_02", "cam_03", "cam_04"])
def test_pose2sim_root_path_and_reprojection(pose2sim_trial, camera):
    """The triangulated markers, moved into the camera's frame and made root-relative (root =
    mid-hip), stand in for the lifted pose; the solver gets the real BODY_25B detections of
    that camera, their confidences and the real intrinsics, and returns the smoothed
    (Savitzky-Golay) root path.

    Measured (100 frames, 60 fps, subject about 3.2-3.8 m away), per camera 1-4:
    re-projection of pose + estimated root onto the detections, mean px: 15.3, 8.2, 18.4, 9.9
    (the triangulated 3D itself re-projects at 15.9, 8.9, 24.6, 10.2 px; 1088x1920 images);
    root path vs the triangulated root, mean m: 0.038, 0.029, 0.050, 0.019; max m: 0.166,
    0.077, 0.086, 0.062. Bounds: re-projection no worse than the triangulation's own and
    under 20 px; root path error mean < 0.06 m, max < 0.2 m.
    """
    cam = pose2sim_trial.cameras[camera]
    markers = pose2sim_trial.markers
    world_cam = cam.to_camera(pose2sim_trial.world)
    root = world_cam[:, [markers.index("RHip"), markers.index("LHip")]].mean(1)
    relative = world_cam - root[:, None]
    det = pose2sim_trial.detections[camera]
    K = (cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2])
    t = estimate_root_trajectory(det[..., :2], relative, intrinsics=K, confidence=det[..., 2], fps=pose2sim_trial.fps)
    used = np.nan_to_num(det[..., 2]) >= 0.3
    reprojection = np.linalg.norm(cam.project(relative + t[:, None]) - det[..., :2], axis=-1)[used].mean()
    triangulated = np.linalg.norm(cam.project(world_cam) - det[..., :2], axis=-1)[used].mean()
    path_error = np.linalg.norm(t - root, axis=-1)
    assert reprojection <= triangulated and reprojection < 20.0
    assert path_error.mean() < 0.06 and path_error.max() < 0.2


def test_default_field_of_view(pose2sim_trial):
    """Without intrinsics: square pixels, centred principal point, a horizontal field of view."""
    fx, fy, cx, cy = camera_intrinsics((1920, 1080), fov_deg=90.0)
    assert fx == pytest.approx(960.0) and fy == fx and (cx, cy) == (960.0, 540.0)
    cam = pose2sim_trial.cameras["cam_02"]
    fov = np.degrees(2 * np.arctan(cam.size[0] / 2 / cam.K[0, 0]))
    world_cam = cam.to_camera(pose2sim_trial.world)
    root = world_cam[:, :1].mean(1) * 0 + world_cam[:, [0, 6]].mean(1)
    det = pose2sim_trial.detections["cam_02"]
    t = estimate_root_trajectory(det[..., :2], world_cam - root[:, None], image_size=cam.size, fov_deg=fov, confidence=det[..., 2])
    assert np.linalg.norm(t - root, axis=-1).mean() < 0.06


def test_bad_trajectory_inputs():
    pose = np.zeros((5, 17, 3))
    with pytest.raises(InputError, match="match the other input"):
        estimate_root_trajectory(np.zeros((5, 16, 2)), pose, image_size=(640, 480))
    with pytest.raises(InputError, match="image_size"):
        estimate_root_trajectory(np.zeros((5, 17, 2)), pose)
    with pytest.raises(InputError, match="intrinsics"):
        estimate_root_trajectory(np.zeros((5, 17, 2)), pose, intrinsics=(1, 2))
    with pytest.raises(InputError, match="two or more usable joints"):
        estimate_root_trajectory(np.full((5, 17, 2), np.nan), pose, image_size=(640, 480))
