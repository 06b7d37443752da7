"""View centring (engine.perspective): the geometry, and lifting that follows the camera."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.coords import normalize_screen
from engine.perspective import ViewCentring
from engine.skeleton import get_skeleton

W, H = 1920, 1080
INTRINSICS = (1400.0, 1400.0, 980.0, 530.0)  # pixels; principal point a little off the centre
SKEL = get_skeleton("anim19")


def _person(frames: int, offset: tuple[float, float, float], seed: int = 0) -> np.ndarray:
    """A camera-space (OpenCV axes) stand-in body: joints scattered around ``offset``, metres."""
    rng = np.random.default_rng(seed)
    body = rng.normal(scale=0.4, size=(1, SKEL.num_joints, 3)) + rng.normal(scale=0.02, size=(frames, SKEL.num_joints, 3))
    return body + np.asarray(offset)


def _project(points: np.ndarray, intrinsics=INTRINSICS) -> np.ndarray:
    fx, fy, cx, cy = intrinsics
    return np.stack([fx * points[..., 0] / points[..., 2] + cx, fy * points[..., 1] / points[..., 2] + cy], -1)


def _pan(angle_deg: float) -> np.ndarray:
    a = np.radians(angle_deg)
    return np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])


def test_virtual_view_is_the_projection_through_a_camera_aimed_at_the_person():
    view = ViewCentring.from_pixels(INTRINSICS, W, H)
    cam3d = _person(9, (1.5, -0.6, 5.0))
    points = normalize_screen(_project(cam3d), W, H)[None]
    visible = np.ones(points.shape[:3], bool)
    rotations = view.rotations(points, visible)
    virtual = view.to_virtual(points, rotations)
    # The same joints seen by the turned camera (focal kept, principal point at the image centre).
    turned = cam3d @ rotations[0].T
    expected = normalize_screen(_project(turned, (*INTRINSICS[:2], W / 2, H / 2)), W, H)
    np.testing.assert_allclose(virtual[0], expected, atol=1e-5)
    lo, hi = points[0].reshape(-1, 2).min(0), points[0].reshape(-1, 2).max(0)
    box_centre = ((lo + hi) / 2)[None, None, None]
    np.testing.assert_allclose(view.to_virtual(box_centre, rotations), 0.0, atol=1e-6)  # its ray is the axis
    spread = np.abs(virtual[0].reshape(-1, 2).min(0) + virtual[0].reshape(-1, 2).max(0)) / 2
    assert spread.max() < 0.02  # so the person is framed in the middle, give or take perspective
    # Pan then tilt: the virtual camera's x axis stays in the real camera's x-z plane (level).
    assert abs(rotations[0].T[1, 0]) < 1e-12
    # And the 3D comes back exactly.
    np.testing.assert_allclose(ViewCentring.from_virtual(turned[None], rotations)[0], cam3d, atol=1e-5)


def test_window_without_feet_aims_at_the_root_and_empty_window_is_left_alone():
    view = ViewCentring.from_pixels(INTRINSICS, W, H)
    cam3d = _person(5, (-1.0, 0.4, 4.0), seed=1)
    points = normalize_screen(_project(cam3d), W, H)[None]
    visible = np.ones(points.shape[:3], bool)
    feet = [SKEL.index(n) for n in ("left_ankle", "right_ankle", "left_toe", "right_toe")]
    visible[:, :, feet] = False
    by_root = view.to_virtual(points, view.rotations(points, visible, SKEL))
    np.testing.assert_allclose(by_root[0, :, SKEL.root].mean(0), 0.0, atol=1e-3)  # root on the axis
    by_box = view.to_virtual(points, view.rotations(points, visible))
    assert np.abs(by_box[0, :, SKEL.root].mean(0)).max() > 0.01  # the box of what is seen aims elsewhere
    nothing = np.zeros_like(visible)
    np.testing.assert_allclose(view.rotations(points, nothing), np.eye(3)[None], atol=1e-12)


@pytest.mark.parametrize("mode", ["fast", "accurate"])
def test_lifting_a_centred_view_model_turns_with_the_camera(tiny_model, mode):
    """Two cameras at one place, one panned 20 degrees: a model trained on centred views
    lifts the same body turned by the pan (up to the aim: the box of the projected joints is
    not the same ray in both images); without view centring it does not."""
    from engine.api import lift
    from engine.backends import TorchBackend

    cam_a = _person(40, (0.3, 0.1, 4.5), seed=2)
    pan = _pan(20.0)
    cam_b = cam_a @ pan.T
    results = {}
    for centring in (True, False):
        model = type(tiny_model)(replace(tiny_model.cfg, view_centring=centring))
        model.load_state_dict(tiny_model.state_dict())
        backend = TorchBackend(model.eval(), device="cpu")
        a = lift(backend, _project(cam_a), image_size=(W, H), mode=mode, intrinsics=INTRINSICS)
        b = lift(backend, _project(cam_b), image_size=(W, H), mode=mode, intrinsics=INTRINSICS)
        results[centring] = np.abs(b - a @ pan.T).max()
    assert results[True] < 0.05 * results[False], results  # the plain model sees another input


def test_lift_needs_no_intrinsics_for_a_plain_model_and_assumes_the_default_camera(tiny_model):
    from engine.api import lift
    from engine.backends import TorchBackend
    from engine.trajectory import DEFAULT_FOV_DEG

    model = type(tiny_model)(replace(tiny_model.cfg, view_centring=True))
    model.load_state_dict(tiny_model.state_dict())
    backend = TorchBackend(model.eval(), device="cpu")
    points = _project(_person(30, (0.8, 0.0, 5.0), seed=3))
    f = W / (2 * np.tan(np.radians(DEFAULT_FOV_DEG) / 2))
    default = lift(backend, points, image_size=(W, H))
    given = lift(backend, points, image_size=(W, H), intrinsics=(f, f, W / 2, H / 2))
    np.testing.assert_allclose(default, given, atol=1e-6)
    other = lift(backend, points, image_size=(W, H), fov_deg=30.0)
    assert np.abs(other - default).max() > 1e-3
