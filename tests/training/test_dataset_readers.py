"""Readers of the paper's datasets, plain positions, Blender actions and 2D keypoints,
on tiny synthetic files written in the same layouts."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from engine.skeleton import get_skeleton
from training.data import (
    MotionFileError, read_3dhp_npz, read_keypoints_2d, read_motion, read_positions_csv, write_blender_motion,
)
from training.data.h36m import H36M32_TO_H36M17

ANIM = get_skeleton("anim19")
J = ANIM.index


def test_h36m_vp3d_layout(tmp_path):
    rng = np.random.default_rng(1)
    takes = {"S1": {"Directions 1": rng.normal(size=(20, 32, 3)).astype(np.float32), "Walking": rng.normal(size=(8, 32, 3)).astype(np.float32)},
             "S9": {"Photo 2": rng.normal(size=(5, 32, 3)).astype(np.float32)}}
    path = tmp_path / "data_3d_h36m.npz"
    np.savez(path, positions_3d=takes)
    clips = read_motion(path)
    assert [(c.subject, c.clip, c.action, c.num_frames) for c in clips] == [
        ("S1", "S1/Directions 1", "Directions", 20), ("S1", "S1/Walking", "Walking", 8), ("S9", "S9/Photo 2", "Photo", 5)]
    assert all(c.fps == 50.0 for c in clips)
    src = takes["S1"]["Directions 1"]
    np.testing.assert_allclose(clips[0].positions[:, J("neck")], src[:, 14])  # Neck/Nose
    np.testing.assert_allclose(clips[0].positions[:, J("left_shoulder")], src[:, 17])
    np.testing.assert_allclose(clips[0].positions[:, J("right_wrist")], src[:, 27])
    assert np.isnan(clips[0].positions[:, J("left_toe")]).all()
    assert len(H36M32_TO_H36M17) == 17


def test_h36m_bad_shape_is_named(tmp_path):
    path = tmp_path / "bad_h36m.npz"
    np.savez(path, positions_3d={"S1": {"Walking": np.zeros((4, 17, 3))}})
    with pytest.raises(MotionFileError, match=r"bad_h36m.npz: S1/Walking has shape \(4, 17, 3\)"):
        read_motion(path)


def _mpi_sequence(n, rng):
    return {"data_2d": rng.uniform(0, 2048, (n, 17, 2)).astype(np.float32), "data_3d": rng.normal(0, 500, (n, 17, 3)).astype(np.float32)}


def test_3dhp_train_and_test_layouts(tmp_path):
    rng = np.random.default_rng(2)
    train = {"S1 Seq1": [{"0": _mpi_sequence(6, rng), "2": _mpi_sequence(6, rng)}, 25], "S2 Seq2": [{"8": _mpi_sequence(4, rng)}, 50]}
    path = tmp_path / "data_train_3dhp.npz"
    np.savez(path, data=train)
    seqs = read_3dhp_npz(path)
    assert [(s.name, s.subject, s.camera, s.fps, s.image_size) for s in seqs] == [
        ("S1 Seq1 cam0", "S1", "0", 25.0, (2048, 2048)), ("S1 Seq1 cam2", "S1", "2", 25.0, (2048, 2048)),
        ("S2 Seq2 cam8", "S2", "8", 50.0, (2048, 2048))]
    raw = train["S1 Seq1"][0]["0"]
    # 3DHP 14 = pelvis, 0 = head_top, 1 = neck (thorax), 16 = head (neck/nose), 5 = left shoulder; mm -> m.
    for mpi, joint in ((14, "pelvis"), (0, "head"), (1, "thorax"), (16, "neck"), (5, "left_shoulder"), (10, "right_ankle")):
        np.testing.assert_allclose(seqs[0].pose_3d[:, J(joint)], raw["data_3d"][:, mpi] / 1000, rtol=1e-6)
        np.testing.assert_allclose(seqs[0].pose_2d[:, J(joint)], raw["data_2d"][:, mpi])
    assert np.isnan(seqs[0].pose_3d[:, J("left_toe")]).all()
    d = seqs[0].as_dict()
    assert set(d) >= {"pose_3d", "pose_2d", "image_size", "valid", "fps", "name", "subject"}

    test = {"TS1": {**_mpi_sequence(5, rng), "valid": np.array([1, 1, 0, 1, 1])}, "TS6": _mpi_sequence(3, rng)}
    tpath = tmp_path / "data_test_3dhp.npz"
    np.savez(tpath, data=test)
    ts = read_3dhp_npz(tpath, test_fps=50)
    assert [(s.name, s.image_size, s.fps) for s in ts] == [("TS1", (2048, 2048), 50.0), ("TS6", (1920, 1080), 50.0)]
    assert ts[0].valid.tolist() == [True, True, False, True, True]
    # As motion: camera space seen from the default front view; invalid frames missing.
    clips = read_motion(tpath)
    assert np.isnan(clips[0].positions[2]).all() and np.isfinite(clips[0].positions[0, :17]).all()
    cam = ts[0].pose_3d[0, J("head")]
    np.testing.assert_allclose(clips[0].positions[0, J("head")], [cam[0], cam[2], -cam[1]], rtol=1e-6)  # y down -> Z up


def test_3dhp_unknown_entry_is_named(tmp_path):
    path = tmp_path / "odd_3dhp.npz"
    np.savez(path, data={"S1 Seq1": np.zeros(3)})
    with pytest.raises(MotionFileError, match="odd_3dhp.npz: entry 'S1 Seq1'"):
        read_motion(path)


def test_positions_npz_units_and_up(tmp_path):
    rng = np.random.default_rng(3)
    names = ["pelvis", "left_knee", "nose_tip"]  # an unknown joint is ignored
    values = rng.normal(size=(4, 3, 3)) * 100
    path = tmp_path / "mine.npz"
    np.savez(path, positions=values, joints=np.array(names), fps=np.array(25.0), units=np.array("cm"), up=np.array("Y"),
             subject=np.array("anna"))
    (clip,) = read_motion(path)
    assert clip.fps == 25.0 and clip.subject == "anna" and clip.clip == "mine"
    x, y, z = values[:, 1].T / 100
    np.testing.assert_allclose(clip.positions[:, J("left_knee")], np.stack([x, -z, y], -1), rtol=1e-5)
    assert np.isnan(clip.positions[:, J("head")]).all() and clip.meta["ignored_joints"] == "nose_tip"


def test_positions_npz_without_fps_refused(tmp_path):
    path = tmp_path / "nofps.npz"
    np.savez(path, positions=np.zeros((2, 19, 3)), skeleton=np.array("anim19"))
    with pytest.raises(MotionFileError, match="nofps.npz: no frame rate"):
        read_motion(path)


def test_positions_csv(tmp_path):
    path = tmp_path / "walk.csv"
    path.write_text("# fps: 30\n# units: mm\n# action: walk\nframe,pelvis_x,pelvis_y,pelvis_z,head_x,head_y,head_z\n"
                    "0,0,0,1000,0,0,1700\n1,10,0,1000,,,\n")
    (clip,) = read_motion(path)
    assert clip.fps == 30.0 and clip.action == "walk" and clip.num_frames == 2
    np.testing.assert_allclose(clip.positions[:, J("pelvis")], [[0, 0, 1], [0.01, 0, 1]])
    assert np.isfinite(clip.positions[0, J("head")]).all() and np.isnan(clip.positions[1, J("head")]).all()
    bad = tmp_path / "bad.csv"
    bad.write_text("# fps: 30\npelvis_x,pelvis_y,pelvis_z\n0,zero,1\n")
    with pytest.raises(MotionFileError, match="bad.csv, data row 1: pelvis_y = 'zero'"):
        read_positions_csv(bad)


def test_blender_bridge_round_trip(tmp_path):
    pos = np.random.default_rng(4).normal(size=(7, ANIM.num_joints, 3)).astype(np.float32)
    pos[:, J("head")] = np.nan
    write_blender_motion(tmp_path / "bridge" / "Walk.npz", pos, fps=24, clip="Walk", subject="Hero",
                         armature="Armature", blend_file="/x/hero.blend", frame_start=1)
    (clip,) = read_motion(tmp_path / "bridge")
    np.testing.assert_array_equal(clip.positions, pos)
    assert (clip.fps, clip.clip, clip.subject, clip.meta["format"], clip.meta["armature"]) == (24.0, "Walk", "Hero", "blender", "Armature")
    with pytest.raises(ValueError, match=r"positions must be \(F, 19, 3\)"):
        write_blender_motion(tmp_path / "x.npz", pos[:, :17], fps=24, clip="a", subject="b")


def test_unknown_npz_layout_named(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.zeros(3))
    with pytest.raises(MotionFileError, match="weights.npz: unknown npz layout"):
        read_motion(path)


def test_keypoints_adapter_without_engine_keypoints(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "engine.keypoints", None)
    with pytest.raises(MotionFileError, match="needs engine.keypoints"):
        read_keypoints_2d(tmp_path / "video_json")


def test_keypoints_adapter_converts_and_asks_for_missing_metadata(tmp_path, monkeypatch):
    fake = types.ModuleType("engine.keypoints")
    track = types.SimpleNamespace(image_size=None, fps=30.0)
    fake.read_keypoints = lambda path, person=None, image_size=None, fps=None: track
    fake.to_skeleton = lambda t, skeleton="anim19": (np.zeros((3, 19, 2)), np.ones((3, 19)))
    monkeypatch.setitem(sys.modules, "engine.keypoints", fake)
    with pytest.raises(MotionFileError, match="does not state its image_size"):
        read_keypoints_2d(tmp_path / "cam1.json")
    clip = read_keypoints_2d(tmp_path / "cam1.json", image_size=(1920, 1080))
    assert clip.points.shape == (3, 19, 2) and clip.fps == 30.0 and clip.as_dict()["image_size"] == (1920, 1080)
