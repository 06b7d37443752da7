# SPDX-License-Identifier: GPL-3.0-or-later
"""An armature's rest pose and posed joints as numpy arrays for the engine."""
from __future__ import annotations

import bpy
import numpy as np

from .action_io import evaluate_basis
from .engine.fk import heads_and_tails
from .engine.retarget import RigRest
from .engine.rig_mapping import RigMapping


def active_armature(context: bpy.types.Context) -> bpy.types.Object | None:
    """The active object if it is an armature, else None (what the rig operators act on)."""
    obj = context.object
    return obj if obj is not None and obj.type == "ARMATURE" else None


def armature_or_hint(layout: bpy.types.UILayout, context: bpy.types.Context) -> bpy.types.Object | None:
    """For a rig panel's ``draw``: the active armature, or None after drawing a hint to select one."""
    obj = active_armature(context)
    if obj is None:
        layout.label(text="Select an armature", icon="INFO")
    return obj


def rig_rest(obj: bpy.types.Object) -> RigRest:
    """The armature's bones as they rest (``Bone.matrix_local``, read in bulk)."""
    bones = obj.data.bones
    n = len(bones)
    mats = np.empty(n * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", mats)
    # RNA matrices are stored column by column.
    mats = mats.reshape(n, 4, 4).transpose(0, 2, 1).astype(np.float64)
    lengths = np.empty(n, dtype=np.float32)
    bones.foreach_get("length", lengths)
    connected = np.empty(n, dtype=bool)
    bones.foreach_get("use_connect", connected)
    names = [b.name for b in bones]
    index = {name: i for i, name in enumerate(names)}
    parents = [index[b.parent.name] if b.parent else -1 for b in bones]
    return RigRest(names, parents, mats, lengths.astype(np.float64), connected)


def posed_joints(
    obj: bpy.types.Object, rig: RigRest, mapping: RigMapping, frames: np.ndarray, basis: dict[str, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Joint positions (F, J, 3) in metres with world axes, relative to the armature's
    origin (NaN where unmapped), from the action by forward kinematics; the visibility
    (F, J); and each bone's basis (F, 4, 4) used."""
    basis = basis or evaluate_basis(obj, rig.names, frames)
    stacked = np.stack([basis[name] for name in rig.names], axis=1)
    heads, tails = heads_and_tails(rig.pose(stacked), rig.lengths)
    names = rig.names
    pos, visible = mapping.joint_positions(
        {n: heads[:, i] for i, n in enumerate(names)}, {n: tails[:, i] for i, n in enumerate(names)}
    )
    linear = np.array(obj.matrix_world)[:3, :3]
    return pos @ linear.T, visible, basis


def armature_linear(obj: bpy.types.Object) -> np.ndarray:
    """The 3x3 rotation-and-scale part of the armature object's world matrix."""
    return np.array(obj.matrix_world)[:3, :3]
