"""build.py: which wheels the extension bundles for each platform and Python."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

import build

BLENDER_SHIPS = {"numpy"}  # what Blender's own Python has, so the zip need not bundle it


@pytest.mark.parametrize(
    "wheel, platform, python, fits",
    [
        ("onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl", "linux-x64", "3.11", True),
        ("onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl", "linux-x64", "3.13", False),
        ("onnxruntime-1.32.0-cp313-cp313-macosx_14_0_arm64.whl", "macos-arm64", "3.13", True),
        ("onnxruntime-1.32.0-cp313-cp313-macosx_14_0_arm64.whl", "windows-x64", "3.13", False),
        ("protobuf-7.36.2-cp310-abi3-macosx_10_9_universal2.whl", "macos-arm64", "3.11", True),
        ("protobuf-7.36.2-cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "linux-x64", "3.13", True),
        ("protobuf-7.36.2-cp310-abi3-win_amd64.whl", "windows-x64", "3.11", True),
        ("protobuf-7.36.1-cp310-abi3-win_amd64.whl", "windows-x64", "3.11", False),  # another version
    ],
)
def test_wheel_fits(wheel, platform, python, fits):
    requirement = next(r for r in build.PLATFORM_WHEELS if wheel.startswith(r.split("==")[0]))
    assert build.wheel_fits(Path(wheel), requirement, platform, python) is fits


def requirements_of(wheel: Path) -> set[str]:
    """Names of the distributions a wheel needs (extras left out)."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode().splitlines()
    names = set()
    for line in lines:
        if line.startswith("Requires-Dist:") and "extra ==" not in line:
            names.add(re.split(r"[\s;<>=!~\[(]", line.split(":", 1)[1].strip())[0].lower().replace("_", "-"))
    return names


def test_bundled_wheels_hold_everything_onnxruntime_imports():
    """The zip must work in a Python holding only Blender: every dependency is bundled."""
    wheels = build.fetch_wheels(["linux-x64"])
    bundled = {w.name.split("-")[0].lower().replace("_", "-") for w in wheels}
    needed = set().union(*(requirements_of(w) for w in wheels))
    assert needed <= bundled | BLENDER_SHIPS, f"not bundled: {sorted(needed - bundled - BLENDER_SHIPS)}"
    for python in build.PYTHONS:
        for requirement in build.PLATFORM_WHEELS:
            assert any(build.wheel_fits(w, requirement, "linux-x64", python) for w in wheels), (requirement, python)
