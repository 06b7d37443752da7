"""The README's first command: demo/run_demo.py on the bundled sample (one frame, one sample)."""
from __future__ import annotations

import importlib.util
import json
import os

import bpy
import pytest

from .conftest import REPO


def test_demo_writes_blend_bvh_and_png(extension, bundled_model, tmp_path):
    spec = importlib.util.spec_from_file_location("run_demo", REPO / "demo" / "run_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    if not demo.SAMPLE.is_dir():
        message = f"the bundled sample {demo.SAMPLE} is missing"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    summary = demo.main(["--zip", os.environ.get("MPM_EXTENSION_ZIP", ""), "--out", str(tmp_path), "--frames", "2",
                         "--samples", "1"])
    assert summary["frames"] == [1, 100] and summary["rendered_frames"] == [1, 100]
    assert json.loads((tmp_path / "summary.json").read_text())["action"] == summary["action"]
    bvh = (tmp_path / "demo.bvh").read_text()
    assert bvh.startswith("HIERARCHY\nROOT hips") and "Frames: 100" in bvh
    image = bpy.data.images.load(str(tmp_path / "demo.png"))
    portrait = demo.SAMPLE_SIZE[0] * 240 // demo.SAMPLE_SIZE[1]  # the clip camera's view, 240 px high
    assert tuple(image.size) == (2 * (portrait + 240) + 6, 240)  # two frames, each from two cameras
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "demo.blend"))
    assert summary["armature"] in bpy.data.objects and f"{summary['armature']} mannequin" in bpy.data.objects
