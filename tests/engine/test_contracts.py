"""The contracts every part builds on: skeletons, configs, coordinates, checkpoints, rig mappings."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from engine.config import MPMConfig, preset_names
from engine.coords import (
    blender_world_to_camera,
    camera_to_blender_world,
    denormalize_screen,
    normalize_screen,
)
from engine.model import MPM
from engine.rig_mapping import MappingError, RigMapping, detect_mapping, match_mapping
from engine.skeleton import convert_joints, get_skeleton


# -- skeletons -----------------------------------------------------------------------
def test_h36m_order_matches_the_paper():
    skel = get_skeleton("h36m17")
    assert skel.joints[0] == "pelvis" and skel.joints[9] == "neck" and skel.joints[16] == "right_wrist"
    assert skel.left == [4, 5, 6, 11, 12, 13] and skel.right == [1, 2, 3, 14, 15, 16]


def test_anim19_extends_h36m_with_toes():
    h36m, anim = get_skeleton("h36m17"), get_skeleton("anim19")
    assert anim.joints[:17] == h36m.joints and anim.parents[:17] == h36m.parents
    assert anim.joints[anim.parents[anim.index("left_toe")]] == "left_ankle"
    flip = anim.flip_permutation
    assert flip[anim.index("left_toe")] == anim.index("right_toe")
    assert (flip[flip] == np.arange(19)).all()


def test_convert_joints_fills_missing_with_nan():
    pose = np.random.rand(5, 17, 3)
    out = convert_joints(pose, get_skeleton("h36m17"), get_skeleton("anim19"))
    assert out.shape == (5, 19, 3) and np.isnan(out[:, 17:]).all() and np.array_equal(out[:, :17], pose)
    conf = convert_joints(np.ones((5, 19)), get_skeleton("anim19"), get_skeleton("h36m17"), axis=-1, fill=0.0)
    assert conf.shape == (5, 17)


def test_unknown_skeleton_and_joint_name_the_valid_ones():
    with pytest.raises(KeyError, match="anim19"):
        get_skeleton("nope")
    with pytest.raises(KeyError, match="pelvis"):
        get_skeleton("anim19").index("hips")


# -- configs -------------------------------------------------------------------------
@pytest.mark.parametrize("name", preset_names())
def test_presets_build(name):
    cfg = MPMConfig.preset(name)
    assert MPMConfig.from_dict(cfg.to_dict()) == cfg


def test_config_rejects_window_that_strides_cannot_reduce():
    with pytest.raises(ValueError, match="product of strides"):
        MPMConfig.preset("tiny", num_frames=81)
    with pytest.raises(ValueError, match="unknown model config keys"):
        MPMConfig.from_dict({**MPMConfig.preset("tiny").to_dict(), "colour": 1})


# -- coordinates ---------------------------------------------------------------------
def test_screen_normalisation_round_trip_and_range():
    px = np.array([[0.0, 0.0], [1088.0, 1920.0], [544.0, 960.0]])
    n = normalize_screen(px, 1088, 1920)
    assert np.allclose(n[0], [-1, -1920 / 1088]) and np.allclose(n[1, 0], 1) and np.allclose(n[2], 0, atol=1e-6)
    assert np.allclose(denormalize_screen(n, 1088, 1920), px, atol=1e-3)


def test_default_view_stands_person_on_blender_z():
    # Camera space: y down. A head above the pelvis has smaller y; in Blender it has larger z.
    head_cam = np.array([0.0, -0.7, 0.0])
    world = camera_to_blender_world(head_cam)
    assert world[2] == pytest.approx(0.7) and abs(world[1]) < 1e-12
    # A point farther from the camera (larger z) lies farther along Blender +Y.
    assert camera_to_blender_world(np.array([0, 0, 2.0]))[1] == pytest.approx(2.0)
    pts = np.random.rand(10, 3)
    assert np.allclose(blender_world_to_camera(camera_to_blender_world(pts)), pts)


def test_blender_camera_conversion_round_trips():
    m = np.eye(4)
    c, s = np.cos(0.3), np.sin(0.3)
    m[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    m[:3, 3] = [1, -5, 1.6]
    pts = np.random.rand(7, 3) + [0, 0, 3]
    world = camera_to_blender_world(pts, m)
    assert np.allclose(blender_world_to_camera(world, m), pts)
    # A point straight ahead of the camera lies along the Blender camera's -Z axis.
    ahead = camera_to_blender_world(np.array([0, 0, 2.0]), m)
    assert np.allclose(ahead, m[:3, 3] - 2.0 * m[:3, 2])


# -- checkpoints ---------------------------------------------------------------------
def test_checkpoint_round_trip_and_module_prefix(tiny_model, tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", tiny_model, tiny_model.cfg, epoch=3, stage="finetune")
    model, ckpt = load_model(path)
    assert ckpt["epoch"] == 3 and model.cfg == tiny_model.cfg
    for a, b in zip(model.state_dict().values(), tiny_model.state_dict().values()):
        assert torch.equal(a, b)
    # A DistributedDataParallel-style state dict with "module." prefixes still loads.
    ckpt["model"] = {"module." + k: v for k, v in ckpt["model"].items()}
    torch.save(ckpt, tmp_path / "ddp.pt")
    assert load_model(tmp_path / "ddp.pt")[0].cfg == tiny_model.cfg


def test_checkpoint_refuses_foreign_and_mismatched_files(tiny_model, tmp_path):
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a loadable MPM checkpoint"):
        read_checkpoint(tmp_path / "text.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an MPM checkpoint"):
        read_checkpoint(tmp_path / "other.pt")
    path = save_checkpoint(tmp_path / "b.pt", tiny_model, tiny_model.cfg)
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["width"] = 32
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(tmp_path / "bad.pt")


def test_checkpoint_load_runs_no_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "mpm-checkpoint", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "evil.pt")


# -- model shape contract ------------------------------------------------------------
def test_model_job_shapes(tiny_model):
    cfg = tiny_model.cfg
    x2, x3 = torch.randn(2, cfg.num_frames, cfg.num_joints, 2), torch.randn(2, cfg.num_frames, cfg.num_joints, 3)
    vis = torch.ones(2, cfg.num_frames, cfg.num_joints, dtype=torch.bool)
    latent, fv = tiny_model.encode(x2, vis)
    assert tiny_model.decode_2d(latent, fv).shape == x2.shape
    assert tiny_model.decode_3d(latent, fv).shape == x3.shape
    assert tiny_model(x2, vis, head="centre").shape == (2, cfg.num_joints, 3)
    out = tiny_model(x3, vis)
    assert torch.allclose(out[..., cfg.skel.root, :], torch.zeros(2, cfg.num_frames, 3))


# -- rig mappings --------------------------------------------------------------------
CMU_BONES = {
    "Hips": "pelvis", "RightUpLeg": "right_hip", "RightLeg": "right_knee", "RightFoot": "right_ankle",
    "LeftUpLeg": "left_hip", "LeftLeg": "left_knee", "LeftFoot": "left_ankle", "Neck": "thorax",
    "Head": "neck", "LeftArm": "left_shoulder", "LeftForeArm": "left_elbow", "LeftHand": "left_wrist",
    "RightArm": "right_shoulder", "RightForeArm": "right_elbow", "RightHand": "right_wrist",
}


def cmu_mapping() -> RigMapping:
    return RigMapping(
        name="cmu",
        bones=CMU_BONES,
        tails={"Head": "head", "RightToeBase": "right_toe", "LeftToeBase": "left_toe"},
        derived={"spine": ["pelvis", "thorax"]},
    )


def test_mapping_json_round_trip(tmp_path):
    mapping = cmu_mapping()
    loaded = RigMapping.load(mapping.save(tmp_path / "cmu.json"))
    assert loaded == mapping
    assert set(loaded.mapped_joints()) == set(get_skeleton("anim19").joints)


def test_mapping_joint_positions():
    mapping = cmu_mapping()
    heads = {b: np.full((4, 3), i, float) for i, b in enumerate(CMU_BONES)}
    tails = {"Head": np.full((4, 3), 50.0)}
    pos, vis = mapping.joint_positions(heads, tails)
    skel = get_skeleton("anim19")
    assert pos.shape == (4, 19, 3)
    assert np.allclose(pos[:, skel.index("head")], 50.0)
    assert np.allclose(pos[:, skel.index("spine")], (0 + 7) / 2)  # mean of Hips (0) and Neck (7)
    assert not vis[:, skel.index("left_toe")].any() and vis[:, skel.index("pelvis")].all()


def test_mapping_errors_name_the_problem(tmp_path):
    with pytest.raises(MappingError, match="not a joint"):
        RigMapping(name="x", bones={"Hips": "hips"})
    with pytest.raises(MappingError, match="given twice"):
        RigMapping(name="x", bones={"Hips": "pelvis", "Root": "pelvis"})
    (tmp_path / "bad.json").write_text(json.dumps({"bones": {}}))
    with pytest.raises(MappingError, match="not a rig mapping"):
        RigMapping.load(tmp_path / "bad.json")


def test_detection_tolerates_namespaces_and_case():
    presets = {"cmu": cmu_mapping()}
    rig = ["mixamorig1:" + b.lower() for b in CMU_BONES] + ["mixamorig1:Head"]
    found = detect_mapping(rig, presets)
    assert found is not None and found[0] == "cmu"
    assert "mixamorig1:leftarm" in found[1].bones
    assert detect_mapping(["Bone", "Bone.001"], presets) is None
    score, _ = match_mapping(cmu_mapping(), list(CMU_BONES)[:5])
    assert score == pytest.approx(5 / len(cmu_mapping().rig_bones))
