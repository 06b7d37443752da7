"""Every expected problem reaches the user as a report (or a poll message) saying what is
missing, never as a traceback."""
from __future__ import annotations

import dataclasses

import bpy
import numpy as np
import pytest

from . import keypoint_files as kf
from .conftest import ext, report_errors


def walk_clip(tmp_path, frames=12, confidence=None) -> bpy.types.MovieClip:
    names = ext("engine.keypoints").get_format("coco17").keypoints
    walk = kf.walking_person(names, frames)
    if confidence is not None:
        walk[..., 2] = confidence
    path = kf.write_coco(tmp_path / "walk.json", [walk])
    assert bpy.ops.mpm.import_keypoints(filepath=str(path), clip_target="NEW", width=1280, height=720) == {"FINISHED"}
    return bpy.context.scene.active_clip


def test_no_clip(scene):
    assert "No movie clip" in report_errors(lambda: bpy.ops.mpm.lift_2d_tracks())


def test_clip_without_joint_tracks(scene, tmp_path):
    clip = walk_clip(tmp_path)
    clip.tracking.objects.active = clip.tracking.objects["Camera"]
    clip.tracking.objects["Camera"].tracks.new(name="corner_feature", frame=1)
    message = report_errors(lambda: bpy.ops.mpm.lift_2d_tracks())
    assert "No tracks named after joints" in message and clip.name in message


def test_named_clip_that_does_not_exist(scene, tmp_path):
    walk_clip(tmp_path)
    assert "no movie clip named 'elsewhere'" in report_errors(lambda: bpy.ops.mpm.lift_2d_tracks(clip="elsewhere"))


def test_every_marker_muted(scene, tmp_path, bundled_model):
    walk_clip(tmp_path, confidence=0.1)
    assert "every marker" in report_errors(lambda: bpy.ops.mpm.lift_2d_tracks())


def test_not_in_object_mode(scene, tmp_path):
    walk_clip(tmp_path)
    bpy.ops.mesh.primitive_cube_add()
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        assert "Object Mode" in report_errors(lambda: bpy.ops.mpm.lift_2d_tracks())
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")


@pytest.mark.parametrize(
    "file_name, content, model_path, expected",
    [
        (None, None, "gone/model.pt", ("does not exist", "model.pt")),
        ("broken.lift_full.onnx", b"this is not an ONNX model", "broken", ("cannot use the model", "not a loadable ONNX model")),
        ("model.pt", b"\x80\x02", "model.pt", ("cannot use the model", "torch is not installed")),
    ],
    ids=["missing", "incompatible_onnx", "checkpoint_without_torch"],
)
def test_unusable_model_file_is_reported(scene, tmp_path, preferences, file_name, content, model_path, expected):
    walk_clip(tmp_path)
    if file_name:
        (tmp_path / file_name).write_bytes(content)
    preferences.model_path = str(tmp_path / model_path)
    message = report_errors(lambda: bpy.ops.mpm.lift_2d_tracks())
    assert all(part in message for part in expected), message


def test_no_bundled_model_and_none_set(scene, tmp_path, preferences, monkeypatch):
    walk_clip(tmp_path)
    monkeypatch.setattr(ext("models"), "bundled_models", lambda: [])
    assert "no model" in report_errors(lambda: bpy.ops.mpm.lift_2d_tracks())


def test_active_target_that_is_not_an_mpm_armature(scene, tmp_path, bundled_model):
    walk_clip(tmp_path)
    bpy.ops.mesh.primitive_cube_add()
    message = report_errors(lambda: bpy.ops.mpm.lift_2d_tracks(target="ACTIVE"))
    assert "not an MPM armature" in message


def test_cancelling_creates_nothing(scene, tmp_path, bundled_model):
    clip = walk_clip(tmp_path, frames=200)
    lift_job = ext("lift_job")
    objects, actions = set(bpy.data.objects), set(bpy.data.actions)
    inp = lift_job.gather(bpy.context, clip, "", None)
    with pytest.raises(lift_job.Cancelled):
        lift_job.compute(inp, lift_job.LiftSettings(), cancelled=lambda: True)
    assert set(bpy.data.objects) == objects and set(bpy.data.actions) == actions


@pytest.mark.parametrize("mode", ["fast", "accurate"])
def test_progress_reaches_the_end(scene, tmp_path, bundled_model, mode):
    clip = walk_clip(tmp_path, frames=300)
    lift_job = ext("lift_job")
    seen: list[float] = []
    inp = lift_job.gather(bpy.context, clip, "", None)
    # Fast mode lifts 300 frames in one batch. A batch of fast windows covers less than half
    # the backend's batch_frames (each window runs twice, plain and mirrored), so a clip of
    # batch_frames frames (the walk repeated) takes at least two.
    batch_frames = ext("models").open_backend(inp.model, inp.backend).batch_frames
    repeats = 1 if mode == "accurate" else -(-batch_frames // len(inp.points))
    inp = dataclasses.replace(
        inp, points=np.tile(inp.points, (repeats, 1, 1)), confidence=np.tile(inp.confidence, (repeats, 1))
    )
    lift_job.compute(inp, lift_job.LiftSettings(mode=mode), progress=seen.append)
    assert len(seen) > 1 and np.all(np.diff(seen) > 0) and seen[-1] == pytest.approx(1.0)
