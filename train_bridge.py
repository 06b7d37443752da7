#!/usr/bin/env python3
"""Fine-tune the pose model on the animation in your .blend files.

    blender -b shot.blend -P train_bridge.py -- --out finetuned
    python train_bridge.py -- a.blend b.blend --out finetuned          # Python with the bpy module
    python train_bridge.py -- a.blend --out finetuned --python ~/venvs/torch/bin/python

1. **Collect** (needs bpy): every armature action of the given .blend files (the open
   file when none is given) is read through the armature's rig mapping (the one stored
   on it by the MPM Pose panel, ``--mapping``, or the best-fitting preset) and written
   as one joint-position file per action into ``OUT/data/`` (the training data format
   ``mpm-blender-motion``: positions (F, J, 3) in metres, world Z up, fps, skeleton,
   joint names, clip = action, subject = armature).
2. **Fine-tune** from ``--checkpoint`` (default: the shipped model's checkpoint) with the
   project's ``training`` package: in this Python when PyTorch imports here, otherwise in
   the Python named by ``--python`` (or ``MPM_TRAIN_PYTHON``), which runs this script
   again with ``--finetune OUT/data``.
3. **Write** ``OUT/model.pt`` and the ONNX model set ``OUT/model.*.onnx``: set either as
   the model in Preferences > Add-ons > MPM Pose.

Arguments are read after ``--`` when there is one (Blender keeps the ones before it).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FORMAT, VERSION = "mpm-blender-motion", 1
EXTENSION_PACKAGE = "bl_ext.user_default.mpm_pose"  # where the installed extension keeps user presets


class BridgeError(Exception):
    """A problem the user can fix; the message says how."""


# -- collecting -------------------------------------------------------------------------
def addon_module(name: str):
    """A module of the extension (``mpm_addon/``) on the repository's engine, loaded as the
    extension is laid out (``engine`` as a subpackage) without registering anything."""
    if "mpm_bridge" not in sys.modules:
        package = types.ModuleType("mpm_bridge")
        package.__path__ = [str(REPO / "mpm_addon"), str(REPO)]
        sys.modules["mpm_bridge"] = package
    return importlib.import_module(f"mpm_bridge.{name}")


def presets(extra: str | None):
    """Shipped and user presets, plus ``extra`` (a preset name or a mapping JSON file)."""
    mapping_store = addon_module("mapping_store")
    rig_mapping = addon_module("engine.rig_mapping")
    try:
        found = mapping_store.all_presets(EXTENSION_PACKAGE)
    except ValueError:  # no user extension repository in this Blender
        found = mapping_store.all_presets(None)
    if extra is None:
        return found, None
    if extra in found:
        return found, found[extra]
    path = Path(extra)
    if not path.is_file():
        raise BridgeError(f"--mapping {extra!r} is neither a preset ({', '.join(sorted(found))}) nor a mapping file")
    return found, rig_mapping.RigMapping.load(path)


def action_bones(action) -> set[str]:
    """Names of the bones an action animates (any API version, any slot)."""
    curves = list(getattr(action, "fcurves", None) or [])
    for layer in getattr(action, "layers", []):
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", []):
                curves += list(bag.fcurves)
    return {m.group(1) for fc in curves if (m := re.match(r'pose\.bones\["(.+?)"\]', fc.data_path))}


def file_name(*parts: str) -> str:
    return "__".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", p).strip("_") or "x" for p in parts) + ".npz"


def collect(blends: list[Path], folder: Path, mapping_arg: str | None = None, log=print) -> list[Path]:
    """Write one motion file per armature action of ``blends`` into ``folder``."""
    import bpy

    action_io, rig_io = addon_module("action_io"), addon_module("rig_io")
    mapping_store, completion = addon_module("mapping_store"), addon_module("completion")
    retarget = addon_module("engine.retarget")
    found, forced = presets(mapping_arg)
    files = blends or ([Path(bpy.data.filepath)] if bpy.data.filepath else [])
    if not files:
        raise BridgeError("no .blend file: give files after '--', or run `blender -b FILE.blend -P train_bridge.py`")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for blend in files:
        if not blend.is_file():
            raise BridgeError(f"{blend} does not exist")
        if Path(bpy.data.filepath).resolve() != blend.resolve():
            bpy.ops.wm.open_mainfile(filepath=str(blend))
        scene = bpy.context.scene
        fps = scene.render.fps / scene.render.fps_base
        for obj in [o for o in bpy.data.objects if o.type == "ARMATURE"]:
            try:
                mapping = forced or mapping_store.mapping_for(obj, found)[0]
            except mapping_store.MappingMissing as exc:
                log(f"{blend.name}: skipping {obj.name}: {exc}")
                continue
            rig = rig_io.rig_rest(obj)
            legs = retarget.Retargeter(rig, mapping).leg_length()
            unit = completion.metres_per_unit(
                legs * np.cbrt(abs(np.linalg.det(rig_io.armature_linear(obj)))) if legs else None, scene.unit_settings.scale_length
            )
            anim = obj.animation_data or obj.animation_data_create()
            original = anim.action
            for action in bpy.data.actions:
                if len(action_bones(action) & mapping.rig_bones) < len(mapping.rig_bones) / 2:
                    continue
                action_io.assign_action(obj, action)
                start, end = (int(round(x)) for x in action.frame_range)
                frames = np.arange(start, end + 1, dtype=np.float64)
                positions, _, _ = rig_io.posed_joints(obj, rig, mapping, frames)
                positions = (positions + np.array(obj.matrix_world)[:3, 3]) * unit
                path = folder / file_name(blend.stem, obj.name, action.name)
                np.savez(
                    path, format=np.array(FORMAT), version=np.array(VERSION), positions=positions.astype(np.float32),
                    fps=np.array(float(fps)), skeleton=np.array(mapping.skeleton), joints=np.array(mapping.skel.joints),
                    clip=np.array(action.name), subject=np.array(obj.name), armature=np.array(obj.name),
                    blend_file=np.array(str(blend)), frame_start=np.array(start),
                )
                written.append(path)
                log(f"{blend.name}: {obj.name} / {action.name}: {len(frames)} frames -> {path.name}")
            anim.action = original
    if not written:
        raise BridgeError("no armature action with a rig mapping was found in " + ", ".join(str(b) for b in files))
    return written


# -- fine-tuning ------------------------------------------------------------------------
def shipped_checkpoint() -> Path:
    found = sorted((REPO / "assets" / "models").glob("*.pt"))
    if not found:
        raise BridgeError("no checkpoint given and none shipped in assets/models: pass --checkpoint FILE.pt")
    return found[0]


def training_config(data: Path, model: dict, out: Path, steps: int, batch_size: int, threads: int) -> dict:
    """A fine-tuning run (stage II only, from the given weights) on the collected motion."""
    return {
        "name": "finetune", "out": str(out), "threads": threads, "checkpoint_every": max(steps, 1),
        "model": {"preset": "small", **model},
        "data": {"train": [{"path": str(data), "kind": "motion"}]},
        "stage2": {"epochs": 1, "batch_size": batch_size, "steps_per_epoch": steps, "lr": 2e-4, "lr_decay": 1.0,
                   "warmup_steps": 0, "val_windows": 0},
    }


def finetune(data: Path, checkpoint: Path, out: Path, steps: int = 300, batch_size: int = 32, threads: int = 0) -> Path:
    """Fine-tune ``checkpoint`` on the motion files in ``data`` (in this Python: needs
    PyTorch and the ``training`` package); writes ``out/model.pt`` and ``out/model.*.onnx``.
    Returns the checkpoint path."""
    from engine.checkpoint import read_checkpoint
    from engine.onnx_export import export_onnx
    from training.run_config import parse_config
    from training.train import train

    run = out / "run"
    # Stage II starts from the weights at stage1/final.pt: the given checkpoint.
    (run / "stage1").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint, run / "stage1" / "final.pt")
    cfg = parse_config(training_config(data, read_checkpoint(checkpoint)["config"], run, steps, batch_size, threads))
    final = train(cfg, ("stage2",))
    if final is None:
        raise BridgeError(f"training stopped before the end; its checkpoints are in {run}")
    model = out / "model.pt"
    shutil.copyfile(final, model)
    export_onnx(model, out / "model")
    return model


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def finetune_elsewhere(python: str, data: Path, checkpoint: Path, out: Path, steps: int, batch_size: int) -> Path:
    """Run :func:`finetune` in another Python (one with PyTorch) through this script."""
    cmd = [python, str(Path(__file__).resolve()), "--finetune", str(data), "--checkpoint", str(checkpoint),
           "--out", str(out), "--steps", str(steps), "--batch-size", str(batch_size)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    try:
        done = subprocess.run(cmd, cwd=REPO, env=env)
    except OSError as exc:
        raise BridgeError(f"cannot run the training Python {python!r}: {exc}") from None
    if done.returncode != 0:
        raise BridgeError(f"training in {python} failed (exit status {done.returncode}); see its output above")
    return out / "model.pt"


# -- command line -----------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    if argv is None:
        argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    parser = argparse.ArgumentParser(prog="train_bridge.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("blends", nargs="*", type=Path, help=".blend files (default: the open one)")
    parser.add_argument("--out", type=Path, default=Path("mpm_finetune"), help="output folder")
    parser.add_argument("--checkpoint", type=Path, help="starting checkpoint (default: the shipped one)")
    parser.add_argument("--mapping", help="rig-mapping preset name or JSON file for every armature")
    parser.add_argument("--python", default=os.environ.get("MPM_TRAIN_PYTHON"),
                        help="a Python with PyTorch to train in, when this one has none (or MPM_TRAIN_PYTHON)")
    parser.add_argument("--steps", type=int, default=300, help="fine-tuning steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--collect-only", action="store_true", help="write the motion files, do not train")
    parser.add_argument("--finetune", type=Path, metavar="DATA", help="skip collecting: fine-tune on these motion files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        out = args.out.resolve()
        data = args.finetune.resolve() if args.finetune else out / "data"
        if not args.finetune:
            collect([b.resolve() for b in args.blends], data, args.mapping)
            if args.collect_only:
                return 0
        checkpoint = (args.checkpoint or shipped_checkpoint()).resolve()
        if not checkpoint.is_file():
            raise BridgeError(f"checkpoint {checkpoint} does not exist")
        if torch_available() and (args.finetune or not args.python):
            model = finetune(data, checkpoint, out, args.steps, args.batch_size)
        elif args.python:
            model = finetune_elsewhere(args.python, data, checkpoint, out, args.steps, args.batch_size)
        else:
            raise BridgeError("PyTorch does not import in this Python: name one that has it with --python "
                              "(or MPM_TRAIN_PYTHON), e.g. the project's .venv/bin/python")
    except BridgeError as exc:
        print(f"train_bridge: {exc}", file=sys.stderr)
        return 2
    print(f"train_bridge: wrote {model} and {model.with_suffix('')}.*.onnx: choose either in Preferences > Add-ons > MPM Pose")
    return 0


if __name__ == "__main__":
    sys.exit(main())
