#!/usr/bin/env python3
"""Time "Complete Missing Joints" end to end in Blender on a real capture.

Run with a Python that has the bpy module (the extension zip is installed into a
temporary Blender user folder, as in the tests):

    .venv-bpy50/bin/python benchmarks/bench_complete_joints.py --zip dist/mpm_pose-*-linux_x64.zip \\
        --bvh ../shared/data/cmu_iclone/001_01.bvh --frames 1000 --method AUTO

A CMU BVH is imported, the left arm's and the right leg's keys are deleted over the
middle half of ``--frames`` frames, and the operator completes them (reading the action by
numpy forward kinematics, completing, retargeting the filled joints and keying the gaps).
Prints the operator's wall time: the first run (opening the model included) and the
best of ``--repeat``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BONES = ["CC_Base_L_Upperarm", "CC_Base_L_Forearm", "CC_Base_R_Thigh", "CC_Base_R_Calf"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, required=True, help="the extension zip (python build.py --platform linux-x64)")
    parser.add_argument("--bvh", type=Path, required=True, help="a BVH capture of at least --frames frames")
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--method", default="AUTO", choices=("AUTO", "MODEL", "INTERPOLATE", "MIRROR"))
    parser.add_argument("--model", help="model file or ONNX set stem (default: the one the zip bundles)")
    parser.add_argument("--mappings", type=Path, help="folder of extra rig-mapping presets to install as the user's")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="mpm-bench-"))
    os.environ.update(HOME=str(home), BLENDER_USER_RESOURCES=str(home / "blender"))
    import bpy  # noqa: PLC0415 (after the user folder is set)

    assert bpy.ops.extensions.package_install_files(filepath=str(args.zip), repo="user_default", enable_on_install=True) == {"FINISHED"}
    package = "bl_ext.user_default.mpm_pose"
    action_io = sys.modules[package + ".action_io"]
    if args.mappings:
        user = Path(sys.modules[package + ".mapping_store"].user_preset_dir())
        for preset in args.mappings.glob("*.json"):
            (user / preset.name).write_bytes(preset.read_bytes())
    if args.model:
        bpy.context.preferences.addons[package].preferences.model_path = args.model

    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.ops.import_anim.bvh(filepath=str(args.bvh), global_scale=0.01, update_scene_fps=True)
    obj = bpy.context.object
    first = 2
    last = first + args.frames - 1
    gap = (first + args.frames // 4, first + 3 * args.frames // 4)
    times = []
    for _ in range(args.repeat):
        for fc in action_io.action_fcurves(obj):
            if any(f'"{b}"' in fc.data_path for b in BONES):
                points = fc.keyframe_points
                for k in reversed(range(len(points))):
                    if gap[0] <= points[k].co[0] <= gap[1]:
                        points.remove(points[k], fast=True)
                fc.update()
        with bpy.context.temp_override(active_object=obj, object=obj, selected_objects=[obj]):
            start = time.perf_counter()
            result = bpy.ops.mpm.complete_missing_joints(method=args.method, frame_start=first, frame_end=last)
            times.append(time.perf_counter() - start)
        if result != {"FINISHED"}:
            print("operator failed:", result, file=sys.stderr)
            return 1
    print(f"{args.frames} frames ({gap[1] - gap[0] + 1} missing on {len(BONES)} bones), method {args.method}: "
          f"first (model loading included) {times[0]:.3f} s, best of {args.repeat} {min(times):.3f} s "
          f"[Blender {bpy.app.version_string}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
