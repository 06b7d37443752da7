"""Retarget the CMU walk onto Blender's human metarig and the Rigify rig generated from it,
and write what happened as JSON.

Run by tests/blender/test_rigs.py in its own Blender process (the extension is already
installed in the user folder of BLENDER_USER_RESOURCES):  python rigify_check.py OUT.json
It ends with os._exit: bpy 4.2 as a module crashes on exit once Rigify has been enabled.
"""
from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import bpy  # noqa: E402
import addon_utils  # noqa: E402  (importable once bpy is)
import numpy as np  # noqa: E402

from tests.blender.conftest import MODULE  # noqa: E402
from tests.blender.rig_scenes import CMU_FIRST, ensure_presets, ext, import_cmu, run_on, world_joints  # noqa: E402

LIMBS = [(f"{side}_{a}", f"{side}_{b}") for side in ("left", "right")
         for a, b in (("hip", "knee"), ("knee", "ankle"), ("ankle", "toe"), ("shoulder", "elbow"), ("elbow", "wrist"))]


def limb_angles(ours: np.ndarray, theirs: np.ndarray, skel) -> dict[str, float]:
    """Largest angle (degrees) between each limb's direction in ``ours`` and ``theirs``."""
    angles = {}
    for a, b in LIMBS + [("spine", "thorax")]:
        va = theirs[:, skel.index(b)] - theirs[:, skel.index(a)]
        vb = ours[:, skel.index(b)] - ours[:, skel.index(a)]
        cos = np.sum(va * vb, -1) / np.linalg.norm(va, axis=-1) / np.linalg.norm(vb, axis=-1)
        angles[f"{a}-{b}"] = float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max())
    return angles


def main(out: Path) -> None:
    addon_utils.enable(MODULE, default_set=True)
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    ensure_presets("blender_metarig", "iclone_cc_base")
    cmu = import_cmu()
    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    metarig = bpy.context.object
    metarig.location.x = 2.0
    bpy.ops.pose.rigify_generate()
    rig = bpy.context.object
    # Blender's own human metarig (A-pose arms, its own rolls) is a target too.
    metarig_done = run_on(metarig, bpy.ops.mpm.retarget, source=cmu.name, lock_feet=False, align_floor=False)
    objects_before = set(bpy.data.objects)
    result = run_on(rig, bpy.ops.mpm.retarget, source=cmu.name, lock_feet=False, align_floor=False)
    curves = {fc.data_path for fc in ext("action_io").action_fcurves(rig)}
    rigify_bake = ext("rigify_bake")
    mapping, _ = rigify_bake.org_mapping(rigify_bake.org_rest(rig))
    source_mapping, _ = ext("mapping_store").mapping_for(cmu)
    frames = np.arange(CMU_FIRST, 170, 12)
    theirs = world_joints(cmu, frames, source_mapping)
    angles = limb_angles(world_joints(rig, frames, mapping), theirs, mapping.skel)
    metarig_angles = limb_angles(world_joints(metarig, frames), theirs, mapping.skel)
    out.write_text(json.dumps({
        "finished": result == {"FINISHED"},
        "objects_left": len(set(bpy.data.objects) - objects_before),
        "bake_constraints_left": sum(c.name.startswith("MPM") for pb in rig.pose.bones for c in pb.constraints),
        "keyed": sorted({p.split('"')[1] for p in curves if p.startswith("pose.bones")}),
        "ik_fk_keyed": 'pose.bones["upper_arm_parent.L"]["IK_FK"]' in curves,
        "angles": angles,
        "metarig_finished": metarig_done == {"FINISHED"},
        "metarig_angles": metarig_angles,
    }))


if __name__ == "__main__":
    code = 0
    try:
        main(Path(sys.argv[1]))
    except BaseException:  # report, then leave without Blender's exit (see the docstring)
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
