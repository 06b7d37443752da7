"""train_bridge.py: .blend actions -> training motion files -> a fine-tuned, loadable model.

The .blend is built here (a Mixamo-named rig walking, through the bpy environment); the
collecting runs in Blender's Python, the fine-tuning in-process (this Python, which has
PyTorch) and through the subprocess branch (Blender's Python calling this one).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from .blender_env import BLENDER_VENVS, REPO, run_in_blender, venv_python
from .rigs import humanoid_bones, mapping_for, rig_joints, rig_rest, walking_basis

FRAMES = 200
BUILD_SCRIPT = """
import sys
import bpy, numpy as np
sys.path.insert(0, {repo!r})
import train_bridge
from tests.rigs import humanoid_bones, walking_basis
action_io, rig_io = train_bridge.addon_module("action_io"), train_bridge.addon_module("rig_io")
rotations = train_bridge.addon_module("engine.rotations")
bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
bpy.context.scene.render.fps = 30
data = bpy.data.armatures.new("Hero")
obj = bpy.data.objects.new("Hero", data)
bpy.context.scene.collection.objects.link(obj)
obj.location = (2.0, 0.0, 0.0)
bpy.context.view_layer.objects.active = obj
bpy.ops.object.mode_set(mode="EDIT")
made = {{}}
for name, parent, head, tail, roll in humanoid_bones("mixamo"):
    made[name] = data.edit_bones.new(name)
    made[name].head, made[name].tail, made[name].roll = tuple(head), tuple(tail), roll
for name, parent, head, tail, roll in humanoid_bones("mixamo"):
    if parent:
        made[name].parent = made[parent]
bpy.ops.object.mode_set(mode="OBJECT")
rig = rig_io.rig_rest(obj)
basis = walking_basis(rig, {frames})
action = bpy.data.actions.new("Walk")
action_io.assign_action(obj, action)
frames = np.arange(1, {frames} + 1, dtype=float)
for b, bone in enumerate(rig.names):
    q = rotations.quaternion_continuity(rotations.matrix_to_quaternion(basis[:, b, :3, :3]))
    action_io.write_channel(obj, bone, "rotation_quaternion", frames, q)
action_io.write_channel(obj, "Hips", "location", frames, basis[:, rig.index("Hips"), :3, 3])
bpy.data.objects.new("Prop", None)  # not an armature: ignored
bpy.ops.wm.save_as_mainfile(filepath={blend!r})
"""


def bpy_python() -> str:
    for version in ("5.0", "4.2"):
        python = venv_python(BLENDER_VENVS[version])
        if python.exists():
            return version
    message = "no bpy environment (.venv-bpy50 / .venv-bpy42): run bash tools/setup.sh"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is absent
        return False


def needs_training() -> None:
    missing = [m for m in ("training.train", "engine.onnx_export") if not _importable(m)]
    if missing:
        pytest.skip(f"fine-tuning needs {', '.join(missing)} (the training and engine-runtime parts)")


@pytest.fixture(scope="module")
def hero_blend(tmp_path_factory) -> tuple[str, Path, Path]:
    """(bpy version, a .blend with a walking Mixamo-named rig, its mapping file)."""
    version = bpy_python()
    folder = tmp_path_factory.mktemp("blend")
    blend = folder / "hero.blend"
    script = folder / "build.py"
    script.write_text(BUILD_SCRIPT.format(repo=str(REPO), frames=FRAMES, blend=str(blend)))
    result = run_in_blender(version, [str(script)], home=folder, timeout=300)
    assert result.returncode == 0 and blend.exists(), result.stdout[-2000:] + result.stderr[-2000:]
    mapping = mapping_for("mixamo").save(folder / "hero_mapping.json")
    return version, blend, mapping


def bridge(version: str, args: list[str], home: Path):
    return run_in_blender(version, [str(REPO / "train_bridge.py"), "--", *args], home=home, timeout=600)


def test_collects_each_action_as_motion_in_metres(hero_blend, tmp_path):
    version, blend, mapping = hero_blend
    result = bridge(version, [str(blend), "--mapping", str(mapping), "--collect-only", "--out", str(tmp_path / "out")], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = (tmp_path / "out" / "data").glob("*.npz")
    data = np.load(path)
    assert str(data["format"]) == "mpm-blender-motion" and int(data["version"]) == 1
    assert str(data["clip"]) == "Walk" and str(data["subject"]) == "Hero" and float(data["fps"]) == 30.0
    assert list(data["joints"]) == list(mapping_for("mixamo").skel.joints) and str(data["skeleton"]) == "anim19"
    rig = rig_rest(humanoid_bones("mixamo"))
    truth = rig_joints(rig, mapping_for("mixamo"), walking_basis(rig, FRAMES)) + [2.0, 0.0, 0.0]
    assert data["positions"].dtype == np.float32 and data["positions"].shape == (FRAMES, 19, 3)
    assert np.abs(data["positions"] - truth).max() < 1e-5


def test_reports_what_is_missing(hero_blend, tmp_path):
    version, blend, mapping = hero_blend
    nothing = bridge(version, [str(blend), "--collect-only", "--mapping", "nope", "--out", str(tmp_path)], tmp_path)
    assert nothing.returncode == 2 and "--mapping 'nope' is neither a preset" in nothing.stderr
    no_file = bridge(version, [str(tmp_path / "missing.blend"), "--out", str(tmp_path)], tmp_path)
    assert no_file.returncode == 2 and "does not exist" in no_file.stderr
    no_checkpoint = bridge(version, [str(blend), "--mapping", str(mapping), "--checkpoint", str(tmp_path / "x.pt"),
                                     "--out", str(tmp_path)], tmp_path)
    assert no_checkpoint.returncode == 2 and "does not exist" in no_checkpoint.stderr
    no_torch = bridge(version, [str(blend), "--mapping", str(mapping), "--checkpoint", str(blend), "--out", str(tmp_path)],
                      tmp_path)
    assert no_torch.returncode == 2 and "PyTorch does not import" in no_torch.stderr


def _loadable(out: Path) -> None:
    from engine.checkpoint import load_model

    model, ckpt = load_model(out / "model.pt")
    assert ckpt["stage"] == "finetune" and model.cfg.skeleton == "anim19"
    import onnxruntime

    for job in ("lift_full", "complete_3d", "complete_2d"):
        onnxruntime.InferenceSession(str(out / f"model.{job}.onnx"), providers=["CPUExecutionProvider"])


def test_finetunes_in_process(hero_blend, tmp_path, tiny_checkpoint):
    needs_training()
    import train_bridge

    version, blend, mapping = hero_blend
    collected = bridge(version, [str(blend), "--mapping", str(mapping), "--collect-only", "--out", str(tmp_path)], tmp_path)
    assert collected.returncode == 0, collected.stderr[-3000:]
    model = train_bridge.finetune(tmp_path / "data", tiny_checkpoint, tmp_path, steps=2, batch_size=4, threads=1)
    assert model == tmp_path / "model.pt"
    _loadable(tmp_path)


def test_finetunes_through_a_named_python(hero_blend, tmp_path, tiny_checkpoint):
    needs_training()
    version, blend, mapping = hero_blend
    result = bridge(version, [str(blend), "--mapping", str(mapping), "--checkpoint", str(tiny_checkpoint), "--steps", "2",
                              "--batch-size", "4", "--python", sys.executable, "--out", str(tmp_path / "out")], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    _loadable(tmp_path / "out")
