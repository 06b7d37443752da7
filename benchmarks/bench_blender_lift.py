#!/usr/bin/env python3
"""Benchmark "Lift 2D Tracks" inside Blender: read tracks, open the model, lift (fast mode,
ONNX Runtime), fit bone lengths, root trajectory, camera, armature and baked action.

Run with a Python that has bpy (the extension zip is installed into a temporary Blender
user folder, as the tests do):

    .venv/bin/python build.py --platform linux-x64                       # the zip
    .venv/bin/python benchmarks/export_random_model.py small build/bench/small   # optional
    .venv-bpy50/bin/python benchmarks/bench_blender_lift.py \\
        --zip dist/mpm_pose-0.1.0-linux_x64.zip --model build/bench/small --frames 1000 10000

``--model`` defaults to the model bundled in the zip. The clip is the bundled real
Pose2Sim sample (100 frames, 1088x1920), played forwards and backwards to the requested
length, at ``--fps`` (default 30, the shipped model's rate: no resampling; the sample's
own 60 fps would halve the frames the model sees). "cold" includes opening the model (new ONNX Runtime sessions); "warm"
reuses it as a second lift in the same session does. Prints a table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "assets" / "samples" / "pose2sim_balancing_cam01"
SHARED_SAMPLE = (REPO.parent / "shared" / "data" / "pose2sim_demo" / "S00_Demo_Session" / "S00_P00_SingleParticipant"
                 / "S00_P00_T01_BalancingTrial" / "pose" / "cam01_json")
SAMPLE_SIZE, SAMPLE_FOCAL = (1088, 1920), 1681.24
MODULE = "bl_ext.user_default.mpm_pose"
TARGET_1000_S = 2.0


def install(zip_path: Path):
    import addon_utils
    import bpy

    result = bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    if result != {"FINISHED"} or not addon_utils.check(MODULE)[1]:
        raise SystemExit(f"could not install {zip_path}")


def ext(name: str):
    return import_module(f"{MODULE}.{name}")


def make_clip(frames: int, fps: float):
    """A clip with the sample's joint tracks, played forwards and backwards to ``frames``."""
    import bpy
    import numpy as np

    source = SAMPLE if SAMPLE.is_dir() else SHARED_SAMPLE
    keypoints = ext("engine.keypoints")
    track = keypoints.read_keypoints(source, image_size=SAMPLE_SIZE)
    points, confidence = keypoints.to_skeleton(track, skeleton="anim19")
    cycle = np.concatenate([np.arange(len(points)), np.arange(len(points) - 2, 0, -1)])
    index = cycle[np.arange(frames) % len(cycle)]
    clip = ext("clips").new_empty_clip(f"bench_{frames}", SAMPLE_SIZE[0], SAMPLE_SIZE[1], frames, fps, 1)
    obj = clip.tracking.objects.new("person")
    clip.tracking.objects.active = obj
    joints = ext("engine.skeleton").get_skeleton("anim19").joints
    ext("tracks").write_tracks(obj.tracks, joints, np.arange(1, frames + 1), points[index], confidence[index],
                               SAMPLE_SIZE, 0.3)
    cam = clip.tracking.camera
    cam.focal_length = SAMPLE_FOCAL * cam.sensor_width / SAMPLE_SIZE[0]
    bpy.context.scene.active_clip = clip
    bpy.context.scene.render.fps = int(fps)
    return clip


def timed_lift(clip, cold: bool) -> dict:
    """One "Lift 2D Tracks" (the operator, as a user runs it) and its stages (same inputs)."""
    import bpy

    lift_job, models = ext("lift_job"), ext("models")
    settings = lift_job.LiftSettings(mode="fast", root_motion=True)
    if cold:
        models.clear_cache()
    t0 = time.perf_counter()
    result = bpy.ops.mpm.lift_2d_tracks(clip=clip.name, mode="FAST", root_motion=True)
    total = time.perf_counter() - t0
    if result != {"FINISHED"}:
        raise SystemExit(f"lift failed: {result}")
    # The same work stage by stage, for the breakdown.
    if cold:
        models.clear_cache()
    stages = {}
    t = time.perf_counter()
    inp = lift_job.gather(bpy.context, clip, "", None)
    stages["read_tracks_s"] = time.perf_counter() - t
    t = time.perf_counter()
    backend = models.open_backend(inp.model, inp.backend)
    stages["open_model_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out = lift_job.compute(inp, settings)
    stages["lift_fit_trajectory_s"] = time.perf_counter() - t
    t = time.perf_counter()
    lift_job.apply(bpy.context, inp, out, settings, None)
    stages["camera_armature_bake_s"] = time.perf_counter() - t
    return {"total_s": total, "backend": backend.name, "device": backend.device, **stages}


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if "--" in argv:  # blender -b -P bench_blender_lift.py -- ARGS
        argv = argv[argv.index("--") + 1:]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, required=True, help="the extension zip built by build.py")
    parser.add_argument("--model", help="ONNX model set stem or checkpoint; default: the zip's bundled model")
    parser.add_argument("--frames", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--fps", type=float, default=30.0, help="the clip's frame rate (and the scene's)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "blender_lift.json")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="mpm-bench-home-"))
    os.environ.update(HOME=str(home), BLENDER_USER_RESOURCES=str(home / "blender"))
    import bpy

    install(args.zip.resolve())
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.backend = "ONNXRUNTIME"
    if args.model:
        prefs.model_path = str(Path(args.model).resolve())
    model = ext("models").model_path()
    config = ext("models").open_backend(model, "onnxruntime").config
    rows = []
    for frames in args.frames:
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        clip = make_clip(frames, args.fps)
        cold = timed_lift(clip, cold=True)
        warm = timed_lift(clip, cold=False)
        rows.append({"frames": frames, "cold": cold, "warm": warm})
        print(f"{frames:>6} frames: {cold['total_s']:.2f} s cold (model loading included), {warm['total_s']:.2f} s warm"
              f"  | open model {cold['open_model_s']:.2f} s, lift+fit+trajectory {cold['lift_fit_trajectory_s']:.2f} s,"
              f" read tracks {cold['read_tracks_s']:.3f} s, camera+armature+bake {cold['camera_armature_bake_s']:.3f} s")
    report = {
        "benchmark": "Lift 2D Tracks in Blender (fast mode, ONNX Runtime, root motion, new armature and action)",
        "blender": bpy.app.version_string,
        "model": str(model),
        "model_config": config.to_dict(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "clip_fps": args.fps,
        "target": f"1000 frames in under {TARGET_1000_S} s, model loading included",
        "results": rows,
    }
    thousand = next((r for r in rows if r["frames"] == 1000), None)
    if thousand is not None:
        report["meets_target"] = thousand["cold"]["total_s"] < TARGET_1000_S
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
