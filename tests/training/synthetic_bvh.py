"""Tiny synthetic motion files for reader tests."""
from __future__ import annotations

import numpy as np

# A standing person in BVH convention (Y up, facing +Z, the person's left = +X), metres.
# (name, parent, offset); arms hang 20 degrees out from the body.
MIXAMO_BODY = [
    ("Hips", None, (0.0, 1.0, 0.0)),
    ("Spine", "Hips", (0.0, 0.10, 0.0)),
    ("Spine1", "Spine", (0.0, 0.12, 0.0)),
    ("Spine2", "Spine1", (0.0, 0.14, 0.0)),
    ("Neck", "Spine2", (0.0, 0.15, 0.0)),
    ("Head", "Neck", (0.0, 0.10, 0.0)),
    ("HeadTop_End", "Head", (0.0, 0.18, 0.0)),
]
for _side, _x in (("Left", 1.0), ("Right", -1.0)):
    MIXAMO_BODY += [
        (f"{_side}Shoulder", "Spine2", (0.05 * _x, 0.10, 0.0)),
        (f"{_side}Arm", f"{_side}Shoulder", (0.12 * _x, 0.0, 0.0)),
        (f"{_side}ForeArm", f"{_side}Arm", (0.09 * _x, -0.26, 0.0)),
        (f"{_side}Hand", f"{_side}ForeArm", (0.08 * _x, -0.24, 0.0)),
        (f"{_side}UpLeg", "Hips", (0.09 * _x, -0.05, 0.0)),
        (f"{_side}Leg", f"{_side}UpLeg", (0.0, -0.43, 0.0)),
        (f"{_side}Foot", f"{_side}Leg", (0.0, -0.42, 0.0)),
        (f"{_side}ToeBase", f"{_side}Foot", (0.0, -0.06, 0.12)),
        (f"{_side}Toe_End", f"{_side}ToeBase", (0.0, 0.0, 0.05)),
    ]


def body_bvh(body=MIXAMO_BODY, prefix: str = "mixamorig:", scale: float = 100.0, frames: int = 12, fps: float = 30.0) -> str:
    """BVH text of ``body`` (units: metres x ``scale``) walking forward with a swaying spine."""
    children: dict[str | None, list[tuple]] = {}
    for item in body:
        children.setdefault(item[1], []).append(item)
    lines = ["HIERARCHY"]
    order: list[str] = []

    def emit(item, depth):
        name, parent, off = item
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {prefix}{name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v * scale:.6f}' for v in off)}")
        channels = "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if parent is None else "3 Zrotation Xrotation Yrotation"
        lines.append(f"{pad}  CHANNELS {channels}")
        order.append(name)
        kids = children.get(name, [])
        if not kids:
            lines.extend([pad + "  End Site", pad + "  {", pad + "    OFFSET 0 0 0", pad + "  }"])
        for kid in kids:
            emit(kid, depth + 1)
        lines.append(pad + "}")

    emit(children[None][0], 0)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / fps:.6f}"]
    rng = np.random.default_rng(0)
    for f in range(frames):
        values = []
        for name in order:
            if name == "Hips":
                values += [0.0, body[0][2][1] * scale, 0.02 * f * scale, 0.0, 0.0, 0.0]
            elif name.startswith("Spine"):
                values += list(rng.normal(0, 3, 3) if f else np.zeros(3))
            else:
                values += [0.0, 0.0, 0.0]
        lines.append(" ".join(f"{v:.5f}" for v in values))
    return "\n".join(lines) + "\n"
