"""Any BVH rig through the presets: units, axes and joint placement on a synthetic Mixamo file."""
from __future__ import annotations

import numpy as np
import pytest

from engine.skeleton import get_skeleton
from tests.training.synthetic_bvh import body_bvh
from training.data import MotionFileError, read_motion

SKEL = get_skeleton("anim19")


@pytest.mark.parametrize("prefix,scale,unit", [("mixamorig:", 100.0, "cm"), ("mixamorig1:", 1.0, "m"), ("", 1 / 0.0254, "inch")])
def test_mixamo_bvh_units_and_joints(tmp_path, prefix, scale, unit):
    path = tmp_path / "take.bvh"
    path.write_text(body_bvh(prefix=prefix, scale=scale))
    (clip,) = read_motion(path)
    assert clip.meta["mapping"] == "Mixamo" and clip.meta["unit"] == unit
    assert clip.fps == 30.0 and clip.num_frames == 12 and clip.subject == tmp_path.name and clip.clip == "take"
    p = clip.positions[0]
    j = SKEL.index
    # BVH Y up, facing +Z -> Z up, facing -Y, the person's left at +X.
    np.testing.assert_allclose(p[j("pelvis")], [0, 0, 1.0], atol=1e-5)
    np.testing.assert_allclose(p[j("left_hip")], [0.09, 0, 0.95], atol=1e-5)
    np.testing.assert_allclose(p[j("left_ankle")], [0.09, 0, 0.10], atol=1e-5)
    np.testing.assert_allclose(p[j("left_toe")], [0.09, -0.17, 0.04], atol=1e-5)  # tail of ToeBase = Toe_End
    np.testing.assert_allclose(p[j("right_wrist")], [-0.34, 0, 0.96], atol=1e-5)
    assert p[j("head")][2] == pytest.approx(p[j("neck")][2] + 0.18, abs=1e-5)  # HeadTop_End
    # The root moves forward (BVH +Z) = world -Y.
    assert clip.positions[-1, 0, 1] < clip.positions[0, 0, 1] - 0.1


def test_explicit_mapping_file_and_unknown_rig(tmp_path):
    path = tmp_path / "odd.bvh"
    path.write_text(body_bvh(prefix="Bip_"))
    # "Bip_Hips" normalises to "biphips": no preset fits.
    with pytest.raises(MotionFileError, match="no rig-mapping preset fits"):
        read_motion(path)
    from engine.rig_mapping import load_presets

    mapping = load_presets()["mixamo"]
    custom = mapping.renamed({b: "Bip_" + b.split(":")[1] for b in mapping.rig_bones})
    custom.name = "Bip"
    custom_path = custom.save(tmp_path / "bip.json")
    (clip,) = read_motion(path, mapping=custom_path)
    assert clip.meta["mapping"] == "Bip" and np.isfinite(clip.positions).all()


def test_unreadable_folder_entries_are_named(tmp_path):
    (tmp_path / "bad.bvh").write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0\n")
    with pytest.raises(MotionFileError, match="bad.bvh"):
        read_motion(tmp_path)
    with pytest.raises(MotionFileError, match="no such file"):
        read_motion(tmp_path / "absent.bvh")
    (tmp_path / "x.fbx").write_text("")
    with pytest.raises(MotionFileError, match="unknown motion file type"):
        read_motion(tmp_path / "x.fbx")
