"""Command line: ``python -m engine lift | complete | export | bench``.

Inputs: an ``.npz`` or ``.json`` of joint arrays in the model skeleton's joint order
(``points`` (F, J, 2) pixels with optional ``confidence`` (F, J), or ``poses`` (F, J, 3)
metres with optional ``visible`` (F, J); optional ``image_size`` [w, h] and ``fps``), or
any keypoint file or folder the ``engine.keypoints`` readers know (OpenPose, AlphaPose,
COCO, MMPose, MediaPipe ...). Outputs: ``.npz`` or ``.json`` (by extension) and a BVH.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import validate
from .api import complete_2d, complete_3d, lift
from .backends import JOBS, BackendError, load_backend
from .postprocess import FILTERS, fit_bone_lengths, smooth
from .trajectory import DEFAULT_FOV_DEG, estimate_root_trajectory

ARRAY_KEYS = ("points", "poses")


class CliError(Exception):
    """A problem to report in one line, without a traceback."""


@dataclass
class ClipInput:
    points: np.ndarray | None = None  # (F, J, 2) pixels
    confidence: np.ndarray | None = None
    poses: np.ndarray | None = None  # (F, J, 3) metres
    visible: np.ndarray | None = None
    image_size: tuple[float, float] | None = None
    fps: float | None = None


def _from_mapping(data: Any) -> ClipInput:
    """Arrays by name from an npz or a JSON object (JSON null = NaN = missing)."""

    def floats(key: str) -> np.ndarray | None:
        return None if data.get(key) is None else np.asarray(data[key], dtype=np.float64)

    image_size, fps = data.get("image_size"), data.get("fps")
    return ClipInput(
        points=floats("points"),
        confidence=floats("confidence"),
        poses=floats("poses"),
        visible=None if data.get("visible") is None else np.asarray(data["visible"]).astype(bool),
        image_size=None if image_size is None else tuple(float(v) for v in np.asarray(image_size).ravel()),
        fps=None if fps is None else float(fps),
    )


def read_input(path: Path, skeleton: str, person: int | None = None, image_size=None, fps=None) -> ClipInput:
    """Joint arrays from npz/JSON, else a detector keypoint file through ``engine.keypoints``."""
    if not path.exists():
        raise CliError(f"input {path} does not exist")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            if not any(k in data for k in ARRAY_KEYS):
                raise CliError(f"{path}: expected an array named 'points' (F, J, 2) or 'poses' (F, J, 3); found {list(data)}")
            return _from_mapping(dict(data))
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CliError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict) and any(k in data for k in ARRAY_KEYS):
            return _from_mapping(data)
    try:
        from .keypoints import read_keypoints, to_skeleton
    except ImportError:
        raise CliError(
            f"{path}: reading detector keypoint files needs the engine.keypoints package, which this copy "
            "of the engine lacks; give an .npz/.json with 'points' (F, J, 2) [+ 'confidence'] instead"
        ) from None
    try:
        track = read_keypoints(path, person=person, image_size=image_size, fps=fps)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    points, confidence = to_skeleton(track, skeleton=skeleton)
    return ClipInput(points=points, confidence=confidence, image_size=track.image_size, fps=track.fps)


def write_output(path: Path, arrays: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npz":
        np.savez_compressed(path, **{k: np.asarray(v) for k, v in arrays.items()})
    elif path.suffix == ".json":
        def plain(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return np.where(np.isfinite(v), v, np.nan).round(6).tolist() if v.dtype.kind == "f" else v.tolist()
            return v

        path.write_text(json.dumps({k: plain(v) for k, v in arrays.items()}).replace("NaN", "null") + "\n", encoding="utf-8")
    else:
        raise CliError(f"output {path}: expected a .npz or .json file name")


def _given_or_file(given: Any, from_file: Any) -> Any:
    return given if given is not None else from_file


def cmd_lift(args: argparse.Namespace) -> None:
    backend = load_backend(args.model, backend=args.backend, device=args.device)
    cfg = backend.config
    clip = read_input(Path(args.input), cfg.skeleton, args.person, args.image_size, args.fps)
    if clip.points is None:
        raise CliError(f"{args.input}: lifting needs 2D 'points' (F, J, 2); this file has 3D 'poses' (use `complete`)")
    image_size = _given_or_file(args.image_size, clip.image_size)
    fps = _given_or_file(args.fps, clip.fps)
    if image_size is None:
        raise CliError("the image size is unknown: pass --image-size WIDTH HEIGHT")
    poses = lift(
        backend, clip.points, clip.confidence, image_size, fps=fps, mode=args.mode, min_confidence=args.min_confidence,
        intrinsics=args.intrinsics, fov_deg=args.fov,
    )
    clip_fps = fps or cfg.fps
    if args.fit_bones:
        poses = fit_bone_lengths(poses, cfg.skel)
    outputs: dict[str, Any] = {"joints": np.array(cfg.skel.joints), "skeleton": cfg.skeleton, "fps": clip_fps}
    if args.smooth != "none":
        smoothed = smooth(poses, clip_fps, filter=args.smooth)
        poses = smoothed.poses
        outputs["accel_before"], outputs["accel_after"] = smoothed.accel_error_before, smoothed.accel_error_after
    outputs["poses"] = poses
    camera = poses
    if args.trajectory:
        root = estimate_root_trajectory(
            clip.points, poses, image_size=image_size, intrinsics=args.intrinsics, confidence=clip.confidence,
            fps=clip_fps, fov_deg=args.fov, min_confidence=args.min_confidence,
        )
        outputs["root_translation"] = root
        camera = poses + root[:, None]
        outputs["poses_camera"] = camera
    write_output(Path(args.out), outputs)
    if args.bvh:
        from .bvh import write_bvh

        write_bvh(args.bvh, camera, cfg.skel, clip_fps)
    print(f"lifted {len(poses)} frames ({args.mode} mode, {backend.name} on {backend.device}) -> {args.out}")


def cmd_complete(args: argparse.Namespace) -> None:
    backend = load_backend(args.model, backend=args.backend, device=args.device)
    cfg = backend.config
    clip = read_input(Path(args.input), cfg.skeleton, args.person, args.image_size, args.fps)
    fps = _given_or_file(args.fps, clip.fps)
    outputs: dict[str, Any] = {"joints": np.array(cfg.skel.joints), "skeleton": cfg.skeleton, "fps": fps or cfg.fps}
    if clip.poses is not None:
        outputs["poses"] = complete_3d(backend, clip.poses, clip.visible, fps=fps, choose_per_gap=args.gap_fill == "best")
    else:
        image_size = _given_or_file(args.image_size, clip.image_size)
        visible = clip.visible
        if visible is None:
            visible = np.isfinite(clip.points).all(-1)
            if clip.confidence is not None:
                visible &= np.nan_to_num(np.asarray(clip.confidence, dtype=np.float64)) >= args.min_confidence
        outputs["points"] = complete_2d(
            backend, clip.points, visible, image_size, fps=fps, choose_per_gap=args.gap_fill == "best"
        )
    write_output(Path(args.out), outputs)
    if args.bvh:
        if clip.poses is None:
            raise CliError("--bvh needs 3D poses; a 2D completion has none")
        from .bvh import write_bvh

        write_bvh(args.bvh, outputs["poses"], cfg.skel, outputs["fps"])
    print(f"completed {len(clip.poses if clip.poses is not None else clip.points)} frames -> {args.out}")


def cmd_export(args: argparse.Namespace) -> None:
    try:
        from .onnx_export import export_onnx
    except ImportError as exc:
        raise CliError(f"export needs torch, onnx and onnxscript ({exc})") from None
    try:
        paths = export_onnx(args.checkpoint, args.out, jobs=tuple(args.jobs), precision="fp16" if args.fp16 else "fp32")
    except ImportError as exc:
        raise CliError(str(exc)) from None
    for job, path in paths.items():
        print(f"{job}: {path}")


def cmd_bench(args: argparse.Namespace) -> None:
    from .benchmark import time_lift

    backend = load_backend(args.model, backend=args.backend, device=args.device, threads=args.threads)
    result = time_lift(backend, args.frames, args.mode, args.repeats, args.batch_size)
    print(json.dumps(result, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="MPM pose lifting and completion")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, help="checkpoint (.pt) or ONNX model set (stem, file or folder)")
        p.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime"))
        p.add_argument("--device", help="cpu or cuda (default: a GPU when present)")

    def input_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("input", help="npz/JSON of joint arrays, or a keypoint file/folder")
        p.add_argument("--out", required=True, help="output .npz or .json")
        p.add_argument("--fps", type=float, help="the clip's frame rate (default: from the file, else the model's)")
        p.add_argument("--image-size", type=float, nargs=2, metavar=("WIDTH", "HEIGHT"))
        p.add_argument("--person", type=int, help="person id in a multi-person keypoint file")
        p.add_argument("--min-confidence", type=float, default=0.3)
        p.add_argument("--bvh", help="also write a BVH of the skeleton")

    p = sub.add_parser("lift", help="2D keypoints -> 3D poses")
    model_options(p)
    input_options(p)
    p.add_argument("--mode", default="fast", choices=("fast", "accurate"))
    p.add_argument("--fit-bones", action="store_true", help="constant bone lengths over the clip")
    p.add_argument("--smooth", default="none", choices=FILTERS)
    p.add_argument("--trajectory", action="store_true", help="estimate the camera-space root path")
    p.add_argument("--fov", type=float, default=DEFAULT_FOV_DEG,
                   help="horizontal field of view without --intrinsics (view centring and the root path)")
    p.add_argument("--intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"))
    p.set_defaults(run=cmd_lift)

    p = sub.add_parser("complete", help="fill missing joints of 3D poses (or gaps in 2D tracks)")
    model_options(p)
    input_options(p)
    p.add_argument("--gap-fill", default="best", choices=("best", "model"),
                   help="'best' fills each gap by the model or a non-learned fill (interpolation; for 3D also the "
                        "mirrored limb), whichever fills stand-ins of it elsewhere in the clip best (default); "
                        "'model' by the model alone")
    p.set_defaults(run=cmd_complete)

    p = sub.add_parser("export", help="checkpoint -> ONNX model set")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="output stem: writes <stem>.<job>.onnx")
    p.add_argument("--jobs", nargs="+", default=list(JOBS), choices=JOBS)
    p.add_argument("--fp16", action="store_true", help="float16 weights and compute (float32 inputs/outputs), for GPU providers")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("bench", help="time lifting a synthetic clip")
    model_options(p)
    p.add_argument("--frames", type=int, default=10_000)
    p.add_argument("--mode", default="fast", choices=("fast", "accurate"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int)
    p.add_argument("--batch-size", type=int)
    p.set_defaults(run=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (CliError, validate.InputError, BackendError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0
