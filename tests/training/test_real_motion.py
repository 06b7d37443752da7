"""The readers on the real CMU files: units, axes, sides, T-pose, frame rates."""
from __future__ import annotations

import numpy as np
import pytest

from engine.skeleton import get_skeleton
from tests.conftest import require_shared_data
from training.data import read_motion
from training.data.cleanup import estimate_height, is_rest_pose

from tests.training.checks import fraction_knees_forward, fraction_toes_ahead, fraction_upright, limb_length_spread

SKEL = get_skeleton("anim19")
REAL_FILES = {
    "iclone": ("cmu_iclone", "005_01.bvh"),
    "s61": ("cmu_s61", "61_04_scaled.bvh"),
    "asfamc": ("cmu_asfamc", "02", "02_05.amc"),
}


@pytest.fixture(scope="module", params=sorted(REAL_FILES))
def real_clip(request):
    path = require_shared_data(*REAL_FILES[request.param])
    (clip,) = read_motion(path)
    return request.param, clip


def test_real_clip_is_plausible(real_clip):
    name, clip = real_clip
    pos = clip.positions.astype(np.float64)
    assert limb_length_spread(pos, SKEL) < 0.01, name
    assert fraction_upright(pos, SKEL) > 0.95, name
    assert 1.5 <= estimate_height(pos, SKEL) <= 2.0, name
    # Hip-based facing vs feet and knees: a left/right swap or a mirrored axis fails both.
    assert fraction_toes_ahead(pos, SKEL) > 0.9, name
    assert fraction_knees_forward(pos, SKEL) > 0.8, name
    # Every mapped joint is finite; 'head' (head top) is unmapped on the BVH rigs here.
    mapped = [i for i, j in enumerate(SKEL.joints) if not (name != "asfamc" and j == "head")]
    assert np.isfinite(pos[:, mapped]).all(), name


def test_tpose_frame_dropped_only_where_present(real_clip):
    name, clip = real_clip
    expected = {"s61": 1, "iclone": 0, "asfamc": 0}[name]
    assert clip.meta["dropped_tpose_frames"] == expected
    assert not is_rest_pose(clip.positions[0], SKEL)


def test_frame_rates_and_cmu_table(real_clip):
    name, clip = real_clip
    assert clip.fps == {"iclone": 60.0, "s61": 120.0, "asfamc": 120.0}[name]
    if name == "iclone":
        assert clip.meta["cmu_check"] == "ok" and clip.action == "walk"


def test_s61_rescaled_to_plausible_height():
    (clip,) = read_motion(require_shared_data("cmu_s61", "61_04_scaled.bvh"))
    assert 1.3 < clip.meta["height_rescale"] < 1.7  # the file is about 0.65 of real size
    assert clip.meta["height_m"] == pytest.approx(1.70)


def test_same_motion_two_formats_agree():
    """ASF/AMC 02_01 and its iClone conversion: same timing, same gait direction."""
    (amc,) = read_motion(require_shared_data("cmu_asfamc", "02", "02_01.amc"), fps=30)
    (bvh,) = read_motion(require_shared_data("cmu_iclone", "002_01.bvh"), fps=30)
    assert abs(amc.num_frames - bvh.num_frames) <= 1
    n = min(amc.num_frames, bvh.num_frames)
    # The pelvis travels the same way (the iClone character is larger: compare directions).
    da = amc.positions[n - 1, 0, :2] - amc.positions[0, 0, :2]
    db = bvh.positions[n - 1, 0, :2] - bvh.positions[0, 0, :2]
    assert np.dot(da, db) / np.linalg.norm(da) / np.linalg.norm(db) > 0.95
    # Left knee height over time follows the same knee, not the other one (no side swap).
    left, right = SKEL.index("left_knee"), SKEL.index("right_knee")
    same = np.corrcoef(amc.positions[:n, left, 2], bvh.positions[:n, left, 2])[0, 1]
    crossed = np.corrcoef(amc.positions[:n, left, 2], bvh.positions[:n, right, 2])[0, 1]
    assert same > 0.5 and same > crossed + 0.5


@pytest.mark.parametrize("folder,name,dropped", [
    ("cmu_s61", "61_01_scaled.bvh", 1),  # T-pose
    ("cmu_s61", "61_03_scaled.bvh", 1),  # shallow A-pose, arms ~28 degrees down
    ("cmu_iclone", "007_03.bvh", 1),
    ("cmu_iclone", "007_01.bvh", 0),
])
def test_prepended_rest_pose_detected(folder, name, dropped):
    (clip,) = read_motion(require_shared_data(folder, name))
    assert clip.meta["dropped_tpose_frames"] == dropped


def test_pose2sim_trc_as_motion():
    trial = require_shared_data("pose2sim_demo", "S00_Demo_Session", "S00_P00_SingleParticipant", "S00_P00_T01_BalancingTrial")
    (clip,) = read_motion(trial / "pose-3d" / "S00_P00_T01_BalancingTrial_0-100.trc")
    pos = clip.positions.astype(np.float64)
    assert clip.fps == 60 and clip.num_frames == 100 and np.isfinite(pos).all()
    assert fraction_upright(pos, SKEL) == 1.0 and 1.5 <= estimate_height(pos, SKEL) <= 2.0
    assert fraction_toes_ahead(pos, SKEL) > 0.9


def test_real_openpose_folder_as_2d_clip():
    pytest.importorskip("engine.keypoints")
    from training.data import read_keypoints_2d

    folder = require_shared_data("pose2sim_demo", "S00_Demo_Session", "S00_P00_SingleParticipant",
                                 "S00_P00_T01_BalancingTrial", "pose-associated", "cam01_json")
    clip = read_keypoints_2d(folder, image_size=(1088, 1920), fps=60)
    assert clip.points.shape == (100, SKEL.num_joints, 2) and clip.fps == 60
    assert np.isfinite(clip.points[:, SKEL.index("left_knee")]).mean() > 0.9
