# SPDX-License-Identifier: GPL-3.0-or-later
"""``mpm.add_mannequin``: a simple body mesh skinned to an MPM armature, so the pose shows
in renders and in solid view (bones do not render).

One ellipsoid per bone (a sphere for the head), each vertex bound rigidly to its bone
through a vertex group and an Armature modifier.
"""
from __future__ import annotations

import bmesh
import bpy
from mathutils import Matrix, Vector

from .baking import SKELETON_PROP

# Half-thickness of each bone's ellipsoid as a fraction of its length (the rest use DEFAULT).
THICKNESS = {"hips": 0.55, "chest": 0.55, "neck": 0.35, "head": 0.45, "pelvis": 0.35, "shoulder": 0.3, "foot": 0.25}
DEFAULT_THICKNESS = 0.18
SIDE_COLOURS = {"L": (0.25, 0.45, 0.85, 1.0), "R": (0.85, 0.3, 0.25, 1.0)}
CENTRE_COLOUR = (0.75, 0.75, 0.72, 1.0)


def _material(name: str, colour) -> bpy.types.Material:
    material = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    material.diffuse_color = colour
    if bpy.app.version < (5, 0):  # node materials are the only kind from 5.0
        material.use_nodes = True
    principled = material.node_tree.nodes.get("Principled BSDF") if material.node_tree else None
    if principled is not None:
        principled.inputs["Base Color"].default_value = colour
        principled.inputs["Roughness"].default_value = 0.6
    return material


def add_mannequin(armature: bpy.types.Object, collection: bpy.types.Collection) -> bpy.types.Object:
    """A mesh following ``armature``'s bones, parented to it with an Armature modifier."""
    mesh = bpy.data.meshes.new(f"{armature.name} mannequin")
    obj = bpy.data.objects.new(mesh.name, mesh)
    collection.objects.link(obj)
    materials = {"C": _material("MPM mannequin", CENTRE_COLOUR)}
    materials.update({side: _material(f"MPM mannequin {side}", c) for side, c in SIDE_COLOURS.items()})
    slots = list(materials)
    for key in slots:
        mesh.materials.append(materials[key])
    bm = bmesh.new()
    groups = []
    for bone in armature.data.bones:
        base, _, side = bone.name.partition(".")
        length = bone.length
        if base == "head":
            radius = Vector((0.55, 0.5, 0.55)) * length  # a head, not a needle
        else:
            t = THICKNESS.get(base, DEFAULT_THICKNESS) * length
            radius = Vector((t, 0.5 * length, t))
        matrix = (bone.matrix_local @ Matrix.Translation((0.0, 0.5 * length, 0.0))
                  @ Matrix.Diagonal((*radius, 1.0)))
        made = bmesh.ops.create_uvsphere(bm, u_segments=16, v_segments=8, radius=1.0, matrix=matrix)
        groups.append((bone.name, [v for v in made["verts"]]))
        slot = slots.index(side if side in materials else "C")
        for face in {f for v in made["verts"] for f in v.link_faces}:
            face.material_index = slot
            face.smooth = True
    bm.verts.index_update()
    indices = [(name, [v.index for v in verts]) for name, verts in groups]
    bm.to_mesh(mesh)
    bm.free()
    for name, vertex_indices in indices:
        obj.vertex_groups.new(name=name).add(vertex_indices, 1.0, "REPLACE")
    obj.parent = armature
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    return obj


class MPM_OT_add_mannequin(bpy.types.Operator):
    """Add a simple body mesh that follows the active MPM armature (for renders and previews)"""

    bl_idname = "mpm.add_mannequin"
    bl_label = "Add Mannequin"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        if obj is None or obj.type != "ARMATURE" or SKELETON_PROP not in obj:
            cls.poll_message_set("Select an MPM armature (made by Lift 2D Tracks)")
            return False
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = add_mannequin(context.active_object, context.collection or context.scene.collection)
        self.report({"INFO"}, f"Added '{obj.name}'")
        return {"FINISHED"}


classes = (MPM_OT_add_mannequin,)

register, unregister = bpy.utils.register_classes_factory(classes)
