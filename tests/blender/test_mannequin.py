"""Add Mannequin: a body mesh skinned to the MPM armature, so renders show the pose."""
from __future__ import annotations

import bpy
import numpy as np

from . import keypoint_files as kf
from .conftest import ext, report_errors


def evaluated_vertices(obj) -> np.ndarray:
    mesh = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
    co = np.empty(3 * len(mesh.vertices))
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3) @ np.array(obj.matrix_world)[:3, :3].T + np.array(obj.matrix_world)[:3, 3]


def test_mannequin_follows_the_baked_pose(scene, tmp_path, bundled_model):
    assert "MPM armature" in report_errors(lambda: bpy.ops.mpm.add_mannequin())
    scene.render.fps = 30
    names = ext("engine.keypoints").get_format("coco17").keypoints
    path = kf.write_coco(tmp_path / "walk.json", [kf.walking_person(names, 20)])
    bpy.ops.mpm.import_keypoints(filepath=str(path), clip_target="NEW", width=1280, height=720, fps=30)
    bpy.ops.mpm.lift_2d_tracks(root_motion=False)
    armature = bpy.data.objects[f"MPM {scene.active_clip.name}"]
    bpy.context.view_layer.objects.active = armature
    assert bpy.ops.mpm.add_mannequin() == {"FINISHED"}
    body = bpy.data.objects[f"{armature.name} mannequin"]
    assert {g.name for g in body.vertex_groups} == {b.name for b in armature.data.bones}
    assert body.parent == armature and body.modifiers[0].object == armature
    # each bone's ellipsoid stays centred on its posed bone
    for frame in (1, 20):
        scene.frame_set(frame)
        vertices = evaluated_vertices(body)
        for group in body.vertex_groups:
            members = [v.index for v in body.data.vertices if group.index in {g.group for g in v.groups}]
            bone = armature.pose.bones[group.name]
            middle = np.array(armature.matrix_world @ ((bone.head + bone.tail) / 2))
            np.testing.assert_allclose(vertices[members].mean(0), middle, atol=1e-4)
