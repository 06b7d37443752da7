"""Lift 2D Tracks on real clips: the baked action reproduces the engine's result exactly,
the generated camera re-projects it like the clip's camera, and timing follows the clip."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from . import keypoint_files as kf
from . import lift_clips
from .conftest import ext

# What baking may change: joint positions (metres) and bone directions (degrees).
MAX_POSITION_ERROR = 1e-3
MAX_DIRECTION_ERROR_DEG = 1.0


@pytest.fixture(params=["pose2sim", "cmu"])
def case(request, scene):
    scene.render.fps = 60  # the clips' rate: no retiming, so frames compare one to one
    return lift_clips.pose2sim_case() if request.param == "pose2sim" else lift_clips.cmu_case()


def lift(**kwargs) -> dict:
    result = bpy.ops.mpm.lift_2d_tracks(**kwargs)
    assert result == {"FINISHED"}
    clip = bpy.context.scene.active_clip
    armature = bpy.data.objects[f"MPM {clip.name}"]
    camera = bpy.data.objects.get(f"MPM {clip.name} camera")
    return {"clip": clip, "armature": armature, "camera": camera, "action": armature.animation_data.action}


def bone_vectors(joints: np.ndarray, skeleton) -> np.ndarray:
    parents, children = np.array(skeleton.bones).T
    return joints[:, children] - joints[:, parents]


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def test_baked_action_reproduces_the_engine_fit_and_camera(case, bundled_model):
    made = lift()
    clip, armature, camera, action = made["clip"], made["armature"], made["camera"], made["action"]
    frames = len(case.points)
    assert action.name == clip.name
    fcurves = ext("action_io").action_fcurves(armature)
    assert len(fcurves) == 18 * 4 + 3  # a quaternion per bone, the root's location
    assert all(len(fc.keyframe_points) == frames for fc in fcurves)
    assert fcurves[0].keyframe_points[0].co[0] == clip.frame_start and action.frame_range[1] == frames

    model = ext("preferences").BUNDLED_MODEL_DIR / bundled_model
    expected = lift_clips.engine_lift(case, model)
    to_world = ext("engine.coords").camera_to_blender_world
    camera_matrix = np.array(camera.matrix_world)
    baked = lift_clips.baked_joints(armature, range(clip.frame_start, clip.frame_start + frames))
    # joints: the engine's constant-length fit plus root path, placed by the generated camera
    error = np.abs(baked - to_world(expected.camera_space, camera_matrix)).max()
    assert error < MAX_POSITION_ERROR, f"baked joints differ from the engine's fit by {error * 1000:.3f} mm"
    # bone directions: the raw lift's (before the fit), turned into the world
    skeleton = ext("engine.skeleton").get_skeleton("anim19")
    raw_world = to_world(expected.raw, camera_matrix) - camera_matrix[:3, 3]
    worst = angles_deg(bone_vectors(baked, skeleton), bone_vectors(raw_world, skeleton)).max()
    assert worst < MAX_DIRECTION_ERROR_DEG, f"baked bone directions differ from the raw lift by {worst:.3f} deg"
    # the generated camera sees the joints where the clip's camera (the engine's intrinsics) does
    seen = lift_clips.project_through(camera, baked[::10], case.size)
    gap = np.abs(seen - lift_clips.pinhole(expected.camera_space[::10], case.intrinsics)).max()
    assert gap < 0.05, f"the generated camera projects {gap:.3f} px away from the clip camera"
    assert tuple(camera.data.background_images[0].clip.size) == tuple(clip.size)
    print(f"\n[{clip.name}] baked vs engine fit: {error * 1000:.4f} mm, bone directions {worst:.4f} deg, "
          f"camera match {gap:.4f} px")


def test_rest_pose_and_rolls_are_the_engines(case, bundled_model):
    armature = lift()["armature"]
    arm = ext("engine.armature")
    skeleton = ext("engine.skeleton").get_skeleton("anim19")
    rest = arm.rest_pose(arm.build_rig(skeleton), np.array(armature["mpm_bone_lengths"]))
    for b, name in enumerate(rest.rig.names):
        bone = armature.data.bones[name]
        np.testing.assert_allclose(np.array(bone.matrix_local)[:3, :3], rest.matrices[b], atol=1e-5)
        np.testing.assert_allclose(bone.head_local, rest.heads[b], atol=1e-6)


def test_reprojection_onto_the_tracks_with_the_shipped_model(scene, shipped_model):
    """Model quality: from the matching camera, the baked joints land near the detections."""
    scene.render.fps = 60
    case = lift_clips.pose2sim_case()
    made = lift()
    frames = range(made["clip"].frame_start, made["clip"].frame_start + len(case.points))
    pixels = lift_clips.project_through(made["camera"], lift_clips.baked_joints(made["armature"], frames), case.size)
    seen = case.confidence > 0
    error = np.linalg.norm(pixels - case.points, axis=-1)[seen]
    print(f"\nre-projection onto the Pose2Sim detections: median {np.median(error):.1f} px, "
          f"90th percentile {np.percentile(error, 90):.1f} px")
    assert np.median(error) < 30.0  # the triangulated 3D itself re-projects at 16 px (mean)


def test_knees_and_elbows_bend_the_right_way_on_cmu_with_the_shipped_model(scene, shipped_model):
    """Model quality: on real mocap, a bent knee or elbow of the result bends like the truth's."""
    scene.render.fps = 60
    case = lift_clips.cmu_case()
    made = lift()
    frames = range(1, len(case.points) + 1)
    baked = lift_clips.baked_joints(made["armature"], frames)
    to_camera = ext("engine.coords").blender_world_to_camera
    lifted = to_camera(baked, np.array(made["camera"].matrix_world))
    skeleton = ext("engine.skeleton").get_skeleton("anim19")
    for side in ("left", "right"):
        for upper, middle, lower in (("hip", "knee", "ankle"), ("shoulder", "elbow", "wrist")):
            a, b, c = (skeleton.index(f"{side}_{j}") for j in (upper, middle, lower))
            axis_true = np.cross(case.truth[:, b] - case.truth[:, a], case.truth[:, c] - case.truth[:, b])
            axis_lifted = np.cross(lifted[:, b] - lifted[:, a], lifted[:, c] - lifted[:, b])
            bent = angles_deg(case.truth[:, b] - case.truth[:, a], case.truth[:, c] - case.truth[:, b]) > 25
            backwards = np.sum(axis_true * axis_lifted, -1) < 0
            assert not (bent & backwards).any(), f"{side} {middle} bends backwards in frames {np.flatnonzero(bent & backwards)}"


def walk_clip(frames: int, fps: float, frame_start: int, tmp_path) -> bpy.types.MovieClip:
    names = ext("engine.keypoints").get_format("coco17").keypoints
    path = kf.write_coco(tmp_path / "walk.json", [kf.walking_person(names, frames)])
    assert bpy.ops.mpm.import_keypoints(filepath=str(path), clip_target="NEW", width=1280, height=720, fps=fps,
                                        frame_start=frame_start) == {"FINISHED"}
    return bpy.context.scene.active_clip


def key_frames(armature) -> np.ndarray:
    points = ext("action_io").action_fcurves(armature)[0].keyframe_points
    frames = np.empty(2 * len(points), np.float32)
    points.foreach_get("co", frames)
    return frames[0::2]


@pytest.mark.parametrize("timing", ["CLIP", "SCENE"])
def test_clip_start_frame_and_frame_rate_are_honoured(scene, tmp_path, bundled_model, timing):
    scene.render.fps = 30
    walk_clip(40, 60.0, 10, tmp_path)
    armature = lift(timing=timing, root_motion=False)["armature"]
    frames = key_frames(armature)
    if timing == "CLIP":  # one key per clip frame, where the clip shows it
        np.testing.assert_array_equal(frames, np.arange(10, 50))
    else:  # real time: 40 frames at 60 fps last 39/60 s = 19.5 scene frames at 30 fps
        np.testing.assert_array_equal(frames, np.arange(10, 30))


def test_without_root_motion_the_body_stands_on_the_floor_facing_front(scene, tmp_path, bundled_model):
    scene.render.fps = 30
    walk_clip(30, 30.0, 1, tmp_path)
    made = lift(root_motion=False)
    assert made["camera"] is None
    joints = lift_clips.baked_joints(made["armature"], range(1, 31))
    assert abs(np.median(joints[..., 2].min(-1))) < 1e-4  # the median lowest joint on Z = 0


def test_accurate_mode_and_smoothing_run(scene, tmp_path, bundled_model):
    scene.render.fps = 30
    walk_clip(30, 30.0, 1, tmp_path)
    made = lift(mode="ACCURATE", smoothing="SAVGOL")
    assert len(ext("action_io").action_fcurves(made["armature"])[0].keyframe_points) == 30


def test_existing_actions_are_untouched(scene, tmp_path, bundled_model):
    clip = walk_clip(20, 30.0, 1, tmp_path)
    # the user's own animation, and an action that already has the clip's name
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.object
    cube.location = (1.0, 2.0, 3.0)
    cube.keyframe_insert("location", frame=1)
    cube.location = (4.0, 5.0, 6.0)
    cube.keyframe_insert("location", frame=20)
    user_action = cube.animation_data.action
    namesake = bpy.data.actions.new(clip.name)
    namesake.use_fake_user = True

    def snapshot(action):
        out = {}
        for fc in action.fcurves if bpy.app.version < (4, 4) else ext("action_io").action_fcurves(cube):
            co = np.empty(2 * len(fc.keyframe_points), np.float32)
            fc.keyframe_points.foreach_get("co", co)
            out[(fc.data_path, fc.array_index)] = co
        return out

    before = snapshot(user_action)
    made = lift(root_motion=False)
    assert made["action"] not in (user_action, namesake) and made["action"].name == f"{clip.name}.001"
    assert cube.animation_data.action == user_action and namesake.name == clip.name
    after = snapshot(user_action)
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)

    # lifting again onto the same armature keeps its bone lengths and its first action
    armature = made["armature"]
    lengths = list(armature["mpm_bone_lengths"])
    first = made["action"]
    bpy.context.view_layer.objects.active = armature
    assert bpy.ops.mpm.lift_2d_tracks(target="ACTIVE", root_motion=False) == {"FINISHED"}
    assert armature.animation_data.action not in (first, namesake, user_action)
    assert first.use_fake_user and len(ext("action_io").action_fcurves(armature)) == 75
    assert list(armature["mpm_bone_lengths"]) == lengths


def test_lift_is_registered_for_undo(extension):
    assert {"REGISTER", "UNDO"} <= bpy.types.MPM_OT_lift_2d_tracks.bl_options
    assert {"REGISTER", "UNDO"} <= bpy.types.MPM_OT_import_keypoints.bl_options
