"""The BVH parser and forward kinematics on tiny hand-written files."""
from __future__ import annotations

import numpy as np
import pytest

from training.data.bvh import MotionFileError, parse_bvh, to_world_z_up

TWO_BONES = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Knee
  {
    OFFSET 0 -10 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 -5 0
    }
  }
  JOINT Spine
  {
    OFFSET 0 4 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT A
    {
      OFFSET 1 0 0
      CHANNELS 3 Zrotation Yrotation Xrotation
    }
    JOINT B
    {
      OFFSET 3 0 0
      CHANNELS 3 Zrotation Yrotation Xrotation
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.0333333
0 0 0  0 0 0  0 0 0  0 0 0  0 0 0  0 0 0
1 2 3  90 0 0  0 0 0  0 0 0  0 0 0  0 0 0
0 0 0  0 0 0  90 0 0  0 0 0  0 0 0  0 0 0
"""


@pytest.fixture
def bvh_file(tmp_path):
    path = tmp_path / "two.bvh"
    path.write_text(TWO_BONES)
    return path


def test_hierarchy_and_header(bvh_file):
    data = parse_bvh(bvh_file)
    assert data.names == ["Hips", "Knee", "Spine", "A", "B"]
    assert [j.parent for j in data.joints] == [-1, 0, 0, 2, 2]
    assert data.num_frames == 3 and data.fps == 30.0  # 0.0333333 snaps to 30
    np.testing.assert_allclose(data.joints[1].end_site, [0, -5, 0])


def test_forward_kinematics(bvh_file):
    heads, tails = parse_bvh(bvh_file).forward_kinematics()
    # Frame 0: rest.
    np.testing.assert_allclose(heads[0, 1], [0, -10, 0])
    np.testing.assert_allclose(tails[0, 1], [0, -15, 0])  # end site
    np.testing.assert_allclose(tails[0, 2], [2, 4, 0])  # mean of children heads (1,4,0), (3,4,0)
    np.testing.assert_allclose(tails[0, 3], heads[0, 3])  # leaf without end site
    # Frame 1: root moved to (1,2,3) and turned 90 degrees about Z: (0,-10,0) -> (10,0,0).
    np.testing.assert_allclose(heads[1, 0], [1, 2, 3], atol=1e-9)
    np.testing.assert_allclose(heads[1, 1], [11, 2, 3], atol=1e-9)
    # Frame 2: the knee turns 90 degrees about X: its end site (0,-5,0) -> (0,0,-5).
    np.testing.assert_allclose(tails[2, 1], [0, -10, -5], atol=1e-9)


def test_rotation_order_matters(tmp_path):
    """Zrotation Xrotation Yrotation composes as Rz @ Rx @ Ry (first listed outermost)."""
    text = TWO_BONES.replace("1 2 3  90 0 0", "0 0 0  90 90 0")
    path = tmp_path / "order.bvh"
    path.write_text(text)
    heads, _ = parse_bvh(path).forward_kinematics()
    # Rz(90) @ Rx(90) applied to (0,-10,0): Rx -> (0,0,-10); Rz leaves Z -> (0,0,-10).
    np.testing.assert_allclose(heads[1, 1], [0, 0, -10], atol=1e-9)


def test_y_up_to_z_up():
    np.testing.assert_allclose(to_world_z_up(np.array([1.0, 2.0, 3.0])), [1.0, -3.0, 2.0])


@pytest.mark.parametrize("corrupt,message", [
    (lambda t: t.replace("MOTION", "MOTON"), "not a BVH file"),
    (lambda t: t.replace("Frames: 3", "Frames: 5"), "header says 5 frames"),
    (lambda t: t.replace("OFFSET 0 -10 0", "OFFSET 0 -x 0"), "expected 3 numbers"),
    (lambda t: t.rstrip() + " 7\n", "not a whole number of frames"),
])
def test_unreadable_files_are_named(tmp_path, corrupt, message):
    path = tmp_path / "bad.bvh"
    path.write_text(corrupt(TWO_BONES))
    with pytest.raises(MotionFileError, match=message) as info:
        parse_bvh(path)
    assert str(path) in str(info.value)
