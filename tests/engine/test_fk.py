"""Forward kinematics and F-curve evaluation (Blender's own evaluation is compared in
tests/blender/test_rig.py)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.fk import FCurveError, FCurveKeys, basis_matrices, evaluate_fcurve, heads_and_tails, pose_matrices
from engine.rotations import axis_angle_matrix, euler_to_matrix, quaternion_to_matrix
from tests.rigs import humanoid_bones, rig_rest


def keys(co, ipo, left=None, right=None, extrapolation="CONSTANT"):
    co = np.asarray(co, dtype=float)
    left = co - [1.0, 0.0] if left is None else left
    right = co + [1.0, 0.0] if right is None else right
    return FCurveKeys(co, left, right, ipo, extrapolation)


def test_constant_and_linear_segments_and_extrapolation():
    k = keys([(1, 0.0), (3, 2.0), (5, -2.0)], ["LINEAR", "CONSTANT", "LINEAR"])
    frames = np.array([0, 1, 2, 3, 4, 4.99, 5, 7])
    assert np.allclose(evaluate_fcurve(k, frames), [0, 0, 1, 2, 2, 2, -2, -2])
    # Linear extrapolation of LINEAR end keys continues the line through the neighbouring key.
    k.extrapolation = "LINEAR"
    assert np.allclose(evaluate_fcurve(k, np.array([-1.0, 7.0])), [-2.0, -6.0])


def test_bezier_with_handles_on_the_chord_is_linear():
    co = np.array([(0.0, 0.0), (3.0, 3.0)])
    left = np.array([(-1.0, -1.0), (2.0, 2.0)])
    right = np.array([(1.0, 1.0), (4.0, 4.0)])
    k = FCurveKeys(co, left, right, ["BEZIER", "BEZIER"])
    t = np.linspace(0, 3, 31)
    assert np.allclose(evaluate_fcurve(k, t), t, atol=1e-9)


def test_bezier_passes_through_keys_and_eases_between_them():
    co = np.array([(0.0, 0.0), (10.0, 1.0)])
    flat_left = np.array([(-3.0, 0.0), (7.0, 1.0)])
    flat_right = np.array([(3.0, 0.0), (13.0, 1.0)])
    k = FCurveKeys(co, flat_left, flat_right, [2, 2])
    v = evaluate_fcurve(k, np.linspace(0, 10, 101))
    assert v[0] == pytest.approx(0.0) and v[-1] == pytest.approx(1.0)
    assert v[50] == pytest.approx(0.5, abs=1e-9)  # symmetric ease in/out
    assert v[5] < 0.05 and np.all(np.diff(v) >= 0)


def test_overlong_handles_are_shortened_like_blender():
    # A handle reaching past the next key would make the curve run backwards in time.
    co = np.array([(0.0, 0.0), (4.0, 1.0)])
    k = FCurveKeys(co, co - [1, 0], np.array([(40.0, 3.0), (5.0, 1.0)]), [2, 2])
    v = evaluate_fcurve(k, np.linspace(0, 4, 41))
    assert np.all(np.isfinite(v)) and v[-1] == pytest.approx(1.0)


def test_unsupported_curves_are_refused():
    with pytest.raises(FCurveError, match="easing"):
        keys([(0, 0.0), (1, 1.0)], [5, 1])
    with pytest.raises(FCurveError, match="sorted"):
        keys([(2, 0.0), (1, 1.0)], [1, 1])
    with pytest.raises(FCurveError, match="not supported"):
        keys([(0, 0.0)], ["ELASTIC"])


def test_basis_from_channels():
    q = np.array([[np.cos(0.3), np.sin(0.3), 0.0, 0.0]])
    b = basis_matrices(location=np.array([[1.0, 2.0, 3.0]]), rotation=q, scale=np.array([[2.0, 2.0, 2.0]]))
    assert np.allclose(b[0, :3, :3], quaternion_to_matrix(q)[0] * 2)
    assert np.allclose(b[0, :3, 3], [1, 2, 3])
    e = np.array([[0.1, 0.2, 0.3]])
    assert np.allclose(basis_matrices(rotation=e, rotation_mode="ZXY")[0, :3, :3], euler_to_matrix(e, "ZXY")[0])
    aa = np.array([[0.7, 0.0, 0.0, 2.0]])
    assert np.allclose(basis_matrices(rotation=aa, rotation_mode="AXIS_ANGLE")[0, :3, :3], axis_angle_matrix(np.array([0, 0, 1.0]), 0.7))


def test_pose_chains_parents_and_ignores_connected_locations():
    rig = rig_rest(humanoid_bones("mixamo"))
    n, b = 3, len(rig.names)
    basis = np.tile(np.eye(4), (n, b, 1, 1))
    pose = pose_matrices(rig.matrices, rig.parents, basis)
    assert np.allclose(pose, rig.matrices[None])  # identity basis = rest pose
    arm, fore = rig.index("LeftArm"), rig.index("LeftForeArm")
    basis[:, arm, :3, :3] = axis_angle_matrix(np.array([0.0, 0.0, 1.0]), np.radians(90))
    heads, tails = heads_and_tails(pose_matrices(rig.matrices, rig.parents, basis), rig.lengths)
    # The forearm's head follows the upper arm's tail; bone lengths are kept.
    assert np.allclose(heads[:, fore], tails[:, arm])
    assert np.allclose(np.linalg.norm(tails - heads, axis=-1), rig.lengths)
    basis[:, fore, :3, 3] = (0.0, 0.5, 0.0)
    connected = np.zeros(b, bool)
    connected[fore] = True
    heads2, _ = heads_and_tails(pose_matrices(rig.matrices, rig.parents, basis, connected), rig.lengths)
    assert np.allclose(heads2[:, fore], heads[:, fore])
