#!/usr/bin/env python3
"""The main job on the bundled sample, headless: import real 2D detections into Blender,
lift them, bake an action, and write a .blend, a BVH and a rendered PNG.

    .venv/bin/python build.py --platform linux-x64                          # the extension zip
    .venv-bpy50/bin/python demo/run_demo.py --out out/demo                  # Blender as a module
    blender -b -P demo/run_demo.py -- --out out/demo                        # or a Blender install

The sample is ``assets/samples/pose2sim_balancing_cam01``: OpenPose BODY_25B detections of a
person balancing (Pose2Sim demo, camera 1, 60 fps, 1088x1920) with the camera's real
calibration, which becomes the clip's camera (focal length, principal point). The extension
zip (``--zip``, default the newest in dist/) is installed through Blender's own installer
into a temporary Blender user folder, so nothing of the user's Blender setup is touched.

Writes to ``--out``: ``demo.blend`` (clip, tracks, camera, armature, action, mannequin),
``demo.bvh`` (the baked action), ``demo.png`` (Cycles on the CPU: a few frames side by side,
each seen from the clip's camera and from the side) and ``summary.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import tomllib
from importlib import import_module
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "assets" / "samples" / "pose2sim_balancing_cam01"
SAMPLE_SIZE, SAMPLE_FPS = (1088, 1920), 60.0
MODULE = "bl_ext.user_default.mpm_pose"
PLATFORM_TAGS = {("linux", "x86_64"): "linux_x64", ("windows", "amd64"): "windows_x64", ("darwin", "arm64"): "macos_arm64"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    if "--" in argv:  # blender -b -P run_demo.py -- ARGS
        argv = argv[argv.index("--") + 1:]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "out" / "demo")
    parser.add_argument("--zip", type=Path, help="extension zip (default: the newest dist/mpm_pose-*.zip for this platform)")
    parser.add_argument("--model", help="model to use instead of the zip's bundled one (ONNX set stem or .pt)")
    parser.add_argument("--frames", type=int, default=3, help="frames to render side by side")
    parser.add_argument("--samples", type=int, default=8, help="Cycles samples per pixel")
    parser.add_argument("--mode", choices=("FAST", "ACCURATE"), default="FAST")
    return parser.parse_args(argv)


def default_zip() -> Path:
    tag = PLATFORM_TAGS.get((platform.system().lower(), platform.machine().lower()))
    zips = sorted((REPO / "dist").glob(f"mpm_pose-*-{tag}.zip"), key=lambda p: p.stat().st_mtime)
    if not zips:
        raise SystemExit("no extension zip in dist/: build it first with `.venv/bin/python build.py --platform linux-x64`")
    return zips[-1]


def ext(name: str):
    return import_module(f"{MODULE}.{name}")


def install_extension(zip_path: Path) -> None:
    import addon_utils
    import bpy

    if addon_utils.check(MODULE)[1]:
        return
    result = bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    if result != {"FINISHED"} or not addon_utils.check(MODULE)[1]:
        raise SystemExit(f"could not install the extension {zip_path}")


def import_sample(scene) -> "bpy.types.MovieClip":
    import bpy

    if not SAMPLE.is_dir():
        raise SystemExit(f"the bundled sample {SAMPLE} is missing")
    result = bpy.ops.mpm.import_keypoints(directory=str(SAMPLE), clip_target="NEW", width=SAMPLE_SIZE[0],
                                          height=SAMPLE_SIZE[1], fps=SAMPLE_FPS)
    if result != {"FINISHED"}:
        raise SystemExit("importing the sample failed")
    clip = scene.active_clip
    k = tomllib.loads((SAMPLE / "calibration.toml").read_text())["cam_01"]["matrix"]
    camera = clip.tracking.camera
    camera.sensor_width = 36.0
    camera.focal_length = k[0][0] * camera.sensor_width / SAMPLE_SIZE[0]
    camera.principal_point_pixels = (k[0][2], SAMPLE_SIZE[1] - k[1][2])  # Blender counts from the bottom
    return clip


def stage_scene(scene, armature, clip_camera) -> "bpy.types.Object":
    """Floor, light, world, a side camera; returns the side camera."""
    import bpy
    import numpy as np
    from mathutils import Vector

    bpy.ops.mesh.primitive_plane_add(size=12.0, location=(0.0, 0.0, 0.0))
    floor = bpy.context.object
    floor.name = "Floor"
    material = bpy.data.materials.new("Floor")
    material.diffuse_color = (0.55, 0.55, 0.5, 1.0)
    floor.data.materials.append(material)
    sun = bpy.data.lights.new("Sun", "SUN")
    sun.energy = 3.0
    sun_obj = bpy.data.objects.new("Sun", sun)
    sun_obj.rotation_euler = (0.7, 0.2, 0.6)
    scene.collection.objects.link(sun_obj)
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.color = (0.6, 0.65, 0.7)
    if bpy.app.version < (5, 0):  # node worlds are the only kind from 5.0
        world.use_nodes = True
    background = world.node_tree.nodes.get("Background") if world.node_tree else None
    if background is not None:
        background.inputs["Color"].default_value = (0.6, 0.65, 0.7, 1.0)
        background.inputs["Strength"].default_value = 0.8
    # the side camera looks at where the body is, from its right, slightly above
    scene.frame_set(scene.frame_start)
    hips = armature.matrix_world @ armature.pose.bones["hips"].head
    to_camera = Vector(np.array(clip_camera.matrix_world.translation - hips).tolist())
    to_camera.z = 0.0
    side = to_camera.normalized().cross(Vector((0.0, 0.0, 1.0)))
    data = bpy.data.cameras.new("Side view")
    data.lens = 35.0
    camera = bpy.data.objects.new("Side view", data)
    camera.location = hips + side * 3.6 + to_camera.normalized() * 1.5 + Vector((0.0, 0.0, 0.4))
    direction = hips + Vector((0.0, 0.0, -0.1)) - camera.location
    camera.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
    scene.collection.objects.link(camera)
    return camera


def render_sheet(scene, views: list, frames: list[int], out: Path, samples: int) -> Path:
    """Cycles CPU renders of ``frames``, each frame from every (camera, (width, height)) in
    ``views`` side by side, frames left to right with a white gap, as one PNG."""
    import bpy
    import numpy as np

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.resolution_percentage = 100
    height = max(size[1] for _, size in views)
    gap = np.ones((height, 6, 4), dtype=np.float32)
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for frame in frames:
            scene.frame_set(frame)
            for camera, (width, view_height) in views:
                scene.camera = camera
                scene.render.resolution_x, scene.render.resolution_y = width, view_height
                path = Path(tmp) / f"{camera.name}_{frame}.png"
                scene.render.filepath = str(path)
                bpy.ops.render.render(write_still=True)
                image = bpy.data.images.load(str(path))
                pixels = np.array(image.pixels[:], dtype=np.float32).reshape(view_height, width, 4)
                bpy.data.images.remove(image)
                tiles.append(np.pad(pixels, ((height - view_height, 0), (0, 0), (0, 0)), constant_values=1.0))
            tiles.append(gap)
    sheet = np.concatenate(tiles[:-1], axis=1)  # Blender images start at the bottom row, as renders do
    image = bpy.data.images.new("demo", sheet.shape[1], sheet.shape[0], alpha=True)
    image.pixels.foreach_set(sheet.ravel())
    image.filepath_raw = str(out)
    image.file_format = "PNG"
    image.save()
    return out


def reprojection_error(scene, clip, camera, armature, first: int, last: int) -> dict:
    """How far the baked joints, seen through the generated camera, land from the tracks (px)."""
    import numpy as np
    from bpy_extras.object_utils import world_to_camera_view

    rig = ext("engine.armature").build_rig(ext("engine.skeleton").get_skeleton(armature["mpm_skeleton"]))
    joints = rig.skeleton.joints
    tracks = clip.tracking.objects.active.tracks
    w, h = clip.size
    errors = []
    for frame in range(first, last + 1):
        scene.frame_set(frame)
        positions = {}
        for b, name in enumerate(rig.names):
            bone = armature.pose.bones[name]
            positions[joints[rig.head[b]]] = armature.matrix_world @ bone.head
            positions[joints[rig.tail[b]]] = armature.matrix_world @ bone.tail
        for joint, position in positions.items():
            marker = tracks[joint].markers.find_frame(frame - clip.frame_start + 1) if joint in tracks else None
            if marker is None or marker.mute:
                continue
            seen = world_to_camera_view(scene, camera, position)
            errors.append(np.hypot((seen.x - marker.co[0]) * w, (seen.y - marker.co[1]) * h))
    return {"median": float(np.median(errors)), "p90": float(np.percentile(errors, 90)), "markers": len(errors)}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if "bpy" not in sys.modules:  # Blender as a module: keep its user files out of the user's home
        home = Path(tempfile.mkdtemp(prefix="mpm-demo-home-"))
        os.environ.update(HOME=str(home), BLENDER_USER_RESOURCES=str(home / "blender"))
    import bpy
    import numpy as np

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    install_extension((args.zip or default_zip()).resolve())
    prefs = bpy.context.preferences.addons[MODULE].preferences
    if args.model:
        prefs.model_path = str(Path(args.model).resolve())
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    scene.render.fps = int(SAMPLE_FPS)
    started = time.perf_counter()
    clip = import_sample(scene)
    imported = time.perf_counter()
    with bpy.context.temp_override(edit_movieclip=clip):
        result = bpy.ops.mpm.lift_2d_tracks(clip=clip.name, mode=args.mode, root_motion=True)
    if result != {"FINISHED"}:
        raise SystemExit("Lift 2D Tracks failed")
    lifted = time.perf_counter()
    armature = bpy.data.objects[f"MPM {clip.name}"]
    clip_camera = bpy.data.objects[f"MPM {clip.name} camera"]
    action = armature.animation_data.action
    first, last = (int(f) for f in action.frame_range)
    scene.frame_start, scene.frame_end = first, last
    bpy.context.view_layer.objects.active = armature
    ext("mannequin").add_mannequin(armature, scene.collection)
    side_camera = stage_scene(scene, armature, clip_camera)

    blend = out / "demo.blend"
    bpy.context.preferences.filepaths.save_version = 0  # no demo.blend1 backups on reruns
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bvh = out / "demo.bvh"
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == armature)
    bpy.context.view_layer.objects.active = armature
    bpy.ops.export_anim.bvh(filepath=str(bvh), frame_start=first, frame_end=last)
    frames = [int(round(f)) for f in np.linspace(first, last, args.frames)]
    reprojection = reprojection_error(scene, clip, clip_camera, armature, first, last)
    portrait = (SAMPLE_SIZE[0] * 240 // SAMPLE_SIZE[1] // 2 * 2, 240)  # the clip camera's aspect
    png = render_sheet(scene, [(clip_camera, portrait), (side_camera, (240, 240))], frames, out / "demo.png",
                       args.samples)
    rendered = time.perf_counter()
    summary = {
        "sample": str(SAMPLE.relative_to(REPO)),
        "blender": bpy.app.version_string,
        "clip": clip.name,
        "frames": [first, last],
        "armature": armature.name,
        "action": action.name,
        "rendered_frames": frames,
        "reprojection_px": reprojection,
        "outputs": {"blend": str(blend), "bvh": str(bvh), "png": str(png)},
        "seconds": {"import": imported - started, "lift_and_bake": lifted - imported, "render_and_save": rendered - lifted},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
