"""Clips to lift in the tests: the real Pose2Sim detections and a projected real CMU clip,
and what the engine alone makes of them (the reference the baked action must match)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..conftest import REPO, require_shared_data
from .conftest import ext

POSE2SIM_SAMPLE = REPO / "assets" / "samples" / "pose2sim_balancing_cam01"
POSE2SIM_SIZE = (1088, 1920)
POSE2SIM_FPS = 60.0
# The CMU clip's iClone CC_Base rig: joint -> (bone, "head" | "tail"). No bone reaches the
# top of the head, so ``head`` has no track and the model fills it in.
CC_BASE = {
    "pelvis": ("CC_Base_Hip", "head"),
    "left_hip": ("CC_Base_L_Thigh", "head"), "left_knee": ("CC_Base_L_Calf", "head"),
    "left_ankle": ("CC_Base_L_Foot", "head"), "left_toe": ("CC_Base_L_ToeBase", "tail"),
    "right_hip": ("CC_Base_R_Thigh", "head"), "right_knee": ("CC_Base_R_Calf", "head"),
    "right_ankle": ("CC_Base_R_Foot", "head"), "right_toe": ("CC_Base_R_ToeBase", "tail"),
    "spine": ("CC_Base_Spine02", "head"), "thorax": ("CC_Base_NeckTwist01", "head"), "neck": ("CC_Base_Head", "head"),
    "left_shoulder": ("CC_Base_L_Upperarm", "head"), "left_elbow": ("CC_Base_L_Forearm", "head"),
    "left_wrist": ("CC_Base_L_Hand", "head"),
    "right_shoulder": ("CC_Base_R_Upperarm", "head"), "right_elbow": ("CC_Base_R_Forearm", "head"),
    "right_wrist": ("CC_Base_R_Hand", "head"),
}
CMU_SIZE = (1280, 720)
CMU_FPS = 60.0


@dataclass
class LiftCase:
    """A clip ready to lift: its tracks (binarised confidence, as tracks carry it), the
    intrinsics set on its camera, and for projected mocap the true camera-space joints."""

    clip: bpy.types.MovieClip
    points: np.ndarray  # (F, 19, 2) pixels, NaN where muted or absent
    confidence: np.ndarray  # (F, 19) 1 tracked, 0 muted / absent
    size: tuple[int, int]
    fps: float
    intrinsics: tuple[float, float, float, float]
    truth: np.ndarray | None = None  # (F, 19, 3) camera space, metres (NaN where unmapped)


def set_clip_camera(clip: bpy.types.MovieClip, intrinsics, size) -> None:
    """Put pinhole intrinsics (pixels, top-left origin) on the clip's tracking camera."""
    fx, _, cx, cy = intrinsics
    cam = clip.tracking.camera
    cam.sensor_width = 36.0
    cam.focal_length = fx * cam.sensor_width / size[0]
    cam.principal_point_pixels = (cx, size[1] - cy)  # Blender counts from the bottom-left


def pose2sim_source() -> tuple[Path, Path]:
    """(detections folder, calibration file): the bundled sample, else the shared data."""
    if POSE2SIM_SAMPLE.is_dir():
        return POSE2SIM_SAMPLE, POSE2SIM_SAMPLE / "calibration.toml"
    session = require_shared_data("pose2sim_demo", "S00_Demo_Session")
    trial = session / "S00_P00_SingleParticipant" / "S00_P00_T01_BalancingTrial"
    return trial / "pose" / "cam01_json", session / "S00_Calibration" / "Calib_qualisys.toml"


def pose2sim_case() -> LiftCase:
    """The real BODY_25B detections of Pose2Sim's camera 1, imported with its calibration."""
    source, calibration_file = pose2sim_source()
    result = bpy.ops.mpm.import_keypoints(directory=str(source), clip_target="NEW", width=POSE2SIM_SIZE[0],
                                          height=POSE2SIM_SIZE[1], fps=POSE2SIM_FPS)
    assert result == {"FINISHED"}
    clip = bpy.context.scene.active_clip
    calibration = tomllib.loads(calibration_file.read_text())["cam_01"]
    k = np.array(calibration["matrix"])
    # Blender's clip camera has square pixels: fy (0.01 % off fx here) is taken as fx
    intrinsics = (k[0, 0], k[0, 0], k[0, 2], k[1, 2])
    set_clip_camera(clip, intrinsics, POSE2SIM_SIZE)
    points, tracked = tracked_points(clip, POSE2SIM_SIZE)
    return LiftCase(clip, points, tracked, POSE2SIM_SIZE, POSE2SIM_FPS, intrinsics)


def tracked_points(clip: bpy.types.MovieClip, size) -> tuple[np.ndarray, np.ndarray]:
    """The active tracking object's joint tracks as (F, 19, 2) pixels (NaN where muted) and
    (F, 19) 1 / 0 tracked, read marker by marker (the lift's input, independently read)."""
    joints = ext("engine.skeleton").get_skeleton("anim19").joints
    tracks = clip.tracking.objects.active.tracks
    last = max(m.frame for t in tracks for m in t.markers)
    points = np.full((last, len(joints), 2), np.nan)
    for j, joint in enumerate(joints):
        if joint in tracks:
            for marker in tracks[joint].markers:
                if not marker.mute:
                    points[marker.frame - 1, j] = (marker.co[0] * size[0], (1.0 - marker.co[1]) * size[1])
    return points, np.isfinite(points).all(-1).astype(np.float64)


def cmu_case(frames: int = 150) -> LiftCase:
    """A real CMU clip (Blender's own BVH importer), projected by a known camera onto tracks."""
    path = require_shared_data("cmu_iclone", "001_01.bvh")
    bpy.ops.import_anim.bvh(filepath=str(path), global_scale=0.01, use_fps_scale=False)
    rig = bpy.context.object
    joints = ext("engine.skeleton").get_skeleton("anim19").joints
    world = np.full((frames, len(joints), 3), np.nan)
    scene = bpy.context.scene
    for k in range(frames):
        scene.frame_set(2 + k)  # BVH frame 0 (scene frame 1) is a T-pose
        m = np.array(rig.matrix_world)
        for j, joint in enumerate(joints):
            if joint in CC_BASE:
                bone, end = CC_BASE[joint]
                local = getattr(rig.pose.bones[bone], end)
                world[k, j] = m[:3, :3] @ np.array(local) + m[:3, 3]
    bpy.data.objects.remove(rig)
    centre = np.nanmean(world[:, 0], axis=0)
    camera = np.eye(4)
    camera[:3, :3] = [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]  # looking along +Y, Z up
    camera[:3, 3] = (centre[0], centre[1] - 6.0, 1.2)
    truth = ext("engine.coords").blender_world_to_camera(world, camera)
    intrinsics = (1100.0, 1100.0, 650.0, 350.0)
    projected = pinhole(truth, intrinsics)
    clip = ext("clips").new_empty_clip("cmu_001_01", CMU_SIZE[0], CMU_SIZE[1], frames, CMU_FPS, 1)
    tracking_object = clip.tracking.objects.new("subject 1")
    clip.tracking.objects.active = tracking_object
    ext("tracks").write_tracks(tracking_object.tracks, joints, np.arange(1, frames + 1), projected,
                               np.ones(projected.shape[:2]), CMU_SIZE, 0.5)
    set_clip_camera(clip, intrinsics, CMU_SIZE)
    scene.active_clip = clip
    points, tracked = tracked_points(clip, CMU_SIZE)
    return LiftCase(clip, points, tracked, CMU_SIZE, CMU_FPS, intrinsics, truth)


@dataclass
class EngineResult:
    raw: np.ndarray  # the lift, root-relative camera space
    camera_space: np.ndarray  # constant bone lengths and the root trajectory added


def engine_lift(case: LiftCase, model, mode: str = "fast") -> EngineResult:
    """What the engine alone makes of the clip's tracks: lift, constant bone lengths, root path."""
    api = ext("engine.api")
    backend = api.load_backend(model)
    raw = api.lift(backend, case.points, case.confidence, image_size=case.size, fps=case.fps, mode=mode)
    fitted = api.fit_bone_lengths(raw, "anim19")
    root = api.estimate_root_trajectory(case.points, fitted, intrinsics=case.intrinsics, confidence=case.confidence,
                                        fps=case.fps)
    return EngineResult(raw, fitted + root[:, None])


def baked_joints(armature: bpy.types.Object, frames) -> np.ndarray:
    """World positions (F, J, 3) of the armature's joints at scene ``frames``, as Blender evaluates them."""
    armature_mod = ext("engine.armature")
    skeleton = ext("engine.skeleton").get_skeleton(armature["mpm_skeleton"])
    rig = armature_mod.build_rig(skeleton)
    scene = bpy.context.scene
    out = np.zeros((len(frames), skeleton.num_joints, 3))
    for k, f in enumerate(frames):
        scene.frame_set(int(f))
        m = np.array(armature.matrix_world)
        for b, name in enumerate(rig.names):
            bone = armature.pose.bones[name]
            out[k, rig.head[b]] = m[:3, :3] @ np.array(bone.head) + m[:3, 3]
            out[k, rig.tail[b]] = m[:3, :3] @ np.array(bone.tail) + m[:3, 3]
    return out


def project_through(camera: bpy.types.Object, world: np.ndarray, size) -> np.ndarray:
    """Pixels (top-left origin) where Blender's camera sees world points (..., 3)."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    scene = bpy.context.scene
    flat = world.reshape(-1, 3)
    uv = np.array([world_to_camera_view(scene, camera, Vector(p))[:2] for p in flat])
    pixels = np.stack([uv[:, 0] * size[0], (1.0 - uv[:, 1]) * size[1]], -1)
    return pixels.reshape(world.shape[:-1] + (2,))


def pinhole(camera_space: np.ndarray, intrinsics) -> np.ndarray:
    fx, fy, cx, cy = intrinsics
    return np.stack([fx * camera_space[..., 0] / camera_space[..., 2] + cx,
                     fy * camera_space[..., 1] / camera_space[..., 2] + cy], -1)
