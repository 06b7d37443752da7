# SPDX-License-Identifier: GPL-3.0-or-later
"""MPM Pose: lift 2D keypoint tracks to 3D animation and complete missing joints.

A thin Blender layer over the bundled ``engine`` package (no model or maths here):
preferences, panels and operators that read Blender data, call the engine and write
Blender data back.
"""
from . import (
    complete_ops,
    mannequin,
    mapping_ui,
    operators_import,
    operators_lift,
    panels,
    preferences,
    retarget_ops,
    track_fill_ops,
)

# Parent panels (panels) register before the sub-panels of later modules.
_modules = (
    preferences,
    operators_import,
    operators_lift,
    mannequin,
    panels,
    mapping_ui,
    retarget_ops,
    complete_ops,
    track_fill_ops,
)


def register() -> None:
    for module in _modules:
        module.register()


def unregister() -> None:
    for module in reversed(_modules):
        module.unregister()
