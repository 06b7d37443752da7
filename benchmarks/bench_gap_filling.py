"""How well gaps are filled (a script, not a test), in 2D tracks (``--dims 2``, "Fill Track
Gaps") or 3D motion (``--dims 3``, "Complete Missing Joints"): the model as the product runs
it (``engine.api.complete_2d`` / ``complete_3d``, anchored to the track at both ends of each
gap) and without anchoring, the choice per gap (``choose_per_gap=True``, the add-on's "Best
per Gap") and the non-learned fills (``training.baselines.fill_missing``: interpolation in
time; in 3D also the mirrored limb, ``engine.gaps.fill_mirrored``).

The clips of the held-out subjects are seen through the evaluation cameras
(``training.eval_views``: 4 azimuths, 1000 x 1000 px, 50-degree field of view): 2D is the
projection, 3D the camera-space joints with the root's path. In each view, joints are
hidden and filled, and the error is measured on the hidden joints only (px, or mm):

* ``<limbs>_<L>f``: whole limbs hidden over the middle L frames of the clip (L = 10, 20, 40,
  160; clips shorter than L + 20 frames are left out of that case);
* ``random_spans``: every joint but the root hidden over two stretches of 5-60 frames each,
  drawn at random (seeded per view).

How good interpolation is depends on how much the lost limb moves, so the numbers are
the held-out subject's motions', not a general rule.

    python benchmarks/bench_gap_filling.py --checkpoint assets/models/mpm_base.pt \\
        --data build/data/cmu_all.npz --subjects 02 [--dims 3] --json gap_filling.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import api  # noqa: E402
from engine.gaps import fill_mirrored  # noqa: E402
from engine.skeleton import Skeleton  # noqa: E402
from training.baselines import fill_missing  # noqa: E402
from training.evaluate import load_views  # noqa: E402

LIMB_CASES = {
    "left_leg": ("left_leg",),
    "2_legs": ("left_leg", "right_leg"),
    "right_arm": ("right_arm",),
    "2_arms": ("left_arm", "right_arm"),
    "left_leg_left_arm": ("left_leg", "left_arm"),
}
SPAN_FRAMES = (10, 20, 40, 160)


def gap_masks(frames: int, skel: Skeleton, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """(F, J) visible masks, one per case that fits the clip; ``rng`` draws the random spans."""
    masks = {}
    for case, limbs in LIMB_CASES.items():
        for span in SPAN_FRAMES:
            if frames < span + 20:
                continue
            start = (frames - span) // 2
            visible = np.ones((frames, skel.num_joints), bool)
            for limb in limbs:
                visible[start : start + span, skel.limb_indices(limb)] = False
            masks[f"{case}_{span}f"] = visible
    visible = np.ones((frames, skel.num_joints), bool)
    for j in range(skel.num_joints):
        if j == skel.root:
            continue
        for _ in range(2):
            length = int(rng.integers(5, 61))
            first = int(rng.integers(0, max(1, frames - length)))
            visible[first : first + length, j] = False
    masks["random_spans"] = visible
    return masks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="a model checkpoint (.pt) or ONNX model set")
    parser.add_argument("--data", required=True, help="motion data the training readers take (e.g. build/data/cmu_all.npz)")
    parser.add_argument("--kind", default="motion")
    parser.add_argument("--subjects", nargs="*", default=[])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dims", type=int, default=2, choices=(2, 3), help="2: 2D tracks (px); 3: 3D motion (mm)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    backend = api.load_backend(args.checkpoint)
    cfg = backend.config
    views = load_views(args.data, args.kind, None, args.subjects, cfg.skel.name, cfg.fps)
    if args.dims == 2:
        methods = {
            "interpolation": lambda pts, vis, view: fill_missing(pts, vis, cfg.skel),
            "model_unanchored": lambda pts, vis, view: api.complete_2d(backend, pts, vis, view.image_size, cfg.fps, anchor=False),
            "model": lambda pts, vis, view: api.complete_2d(backend, pts, vis, view.image_size, cfg.fps),
            "per_gap": lambda pts, vis, view: api.complete_2d(backend, pts, vis, view.image_size, cfg.fps, choose_per_gap=True),
        }
    else:
        methods = {
            "interpolation": lambda pos, vis, view: fill_missing(pos, vis, cfg.skel),
            "mirror": lambda pos, vis, view: fill_mirrored(pos, vis, cfg.skel),
            "model_unanchored": lambda pos, vis, view: api.complete_3d(backend, pos, vis, cfg.fps, anchor=False),
            "model": lambda pos, vis, view: api.complete_3d(backend, pos, vis, cfg.fps),
            "per_gap": lambda pos, vis, view: api.complete_3d(backend, pos, vis, cfg.fps, choose_per_gap=True),
        }
    scale = 1.0 if args.dims == 2 else 1000.0  # px, or metres to mm
    errors: dict[str, dict[str, list[np.ndarray]]] = {}
    for index, view in enumerate(views):
        if args.dims == 2:
            truth = view.points_px.astype(np.float32)
        else:  # camera-space positions with the root's path, as a captured clip has them
            truth = (view.pose_3d + view.meta["root_3d"][:, None]).astype(np.float32)
        for case, visible in gap_masks(len(truth), cfg.skel, np.random.default_rng([args.seed, index])).items():
            holes = np.where(visible[..., None], truth, np.nan)
            for name, method in methods.items():
                filled = method(holes, visible, view)
                errors.setdefault(case, {}).setdefault(name, []).append(scale * np.linalg.norm(filled - truth, axis=-1)[~visible])

    results = {
        case: {"views": len(by_method["model"]), **{name: float(np.concatenate(e).mean()) for name, e in by_method.items()}}
        for case, by_method in errors.items()
    }
    unit = "px" if args.dims == 2 else "mm"
    print(f"{len(views)} views; mean error on the hidden joints, {unit}")
    print(f"{'case':28s}{'views':>6s}" + "".join(f"{name:>18s}" for name in methods))
    for case, by_method in results.items():
        print(f"{case:28s}{by_method['views']:6d}" + "".join(f"{by_method[name]:18.2f}" for name in methods))
    if args.json:
        args.json.write_text(json.dumps({
            "checkpoint": str(args.checkpoint), "data": args.data, "subjects": args.subjects, "seed": args.seed,
            "dims": args.dims, "views": len(views), "unit": f"{unit}, mean over hidden joints", "results": results,
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
