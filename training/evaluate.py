"""Evaluate a checkpoint the way the paper does, on any motion the readers take.

    python -m training.evaluate --checkpoint runs/shipped/stage2/final.pt \\
        --data build/data/cmu_all.npz --subjects 05 \\
        --real2d ../shared/data/pose2sim_demo --baseline mlp=runs/shipped_mlp/final.pt \\
        --out report.json

Protocols (fixed seed; cameras in ``eval_views.EVAL_CAMERAS``):

* ``lift_gt2d``: the clean projection of the 3D, every joint visible;
* ``lift_noisy2d``: the same through the detector-noise model calibrated on real
  detections (``training.data.cameras.DetectorNoise``: per-joint white jitter and a slow
  per-window offset), scaled so that the mean per-joint jitter is 3 px (``--noise-px``;
  the calibrated drift keeps its ratio to the jitter); no dropouts (``occluded2d`` covers
  missing joints);
* ``occluded2d``: the paper's Table 3 cases: ``1_joint`` and ``2_joints`` (random
  non-root joints per view), ``2_legs``, ``2_arms``, ``left_leg_left_arm``,
  ``right_leg_right_arm`` hidden in every frame of the 2D input;
* ``partial3d``: the Table 4 cases ``right_leg``, ``left_leg``, ``left_arm``,
  ``right_arm`` missing from the 3D input in every frame (3D completion; the observed
  joints are returned as given, so ``mpjpe_missing`` is the telling number);
* ``real2d``: real detections (Pose2Sim, ``--real2d``) lifted per camera against the
  triangulated 3D in that camera's frame.

MPM lifts with ``--head`` (the paper's way: ``full``, the default, ``centre`` or ``both``;
``--flip`` adds flip test-time augmentation) or, with ``--runtime fast|accurate``, through
the engine's own runtime exactly as ``engine.api`` and the add-on do. ``--baseline-flip``
gives the MLP baselines the same flip averaging, for a like-for-like comparison.

Metrics per case (``training.metrics``): ``mpjpe``, ``p_mpjpe`` (mm), ``pck150``, ``auc``
(%), ``accel`` (mm / frame^2 at the model's frame rate), ``mpjpe_missing`` for
``partial3d``, and for lifting on a skeleton with more than the Human3.6M 17 joints
(``anim19``) ``mpjpe_h36m17``, the MPJPE over those 17 alone (the literature's); averaged
per action then over actions where actions are known (CMU: the category of the motion
description). Every case also breaks its MPJPE down by action (``mpjpe_per_action``,
where actions are known), by clip (``mpjpe_per_clip``: one motion through every camera)
and by joint (``mpjpe_per_joint``); the printed table is followed by the action and joint
breakdowns for ``lift_gt2d`` and ``lift_noisy2d``, MPM beside the baselines. Report
layout::

    report["protocols"][protocol][case]["mpjpe"]      (case "all" where there is one)
    report["protocols"][protocol][case]["mpjpe_per_action"][action]   (mm)
    report["protocols"][protocol][case]["mpjpe_per_clip"][clip]       ({"mpjpe": mm, "frames", "action"})
    report["protocols"][protocol][case]["mpjpe_per_joint"][joint]     (mm)
    report["baselines"][name][protocol][case]["mpjpe"]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from engine.checkpoint import load_model
from engine.runtime import MODES
from engine.skeleton import Skeleton, get_skeleton

from . import metrics
from .data.cameras import DetectorNoise
from .eval_views import EVAL_CAMERAS, EvalView, views_from_clips, views_from_sequences
from .predictors import HEADS, FillPredictor, MLPPredictor, MPMPredictor, RuntimePredictor

PROTOCOLS = ("lift_gt2d", "lift_noisy2d", "occluded2d", "partial3d", "real2d")
OCCLUSION_CASES = {
    "1_joint": 1, "2_joints": 2, "2_legs": ("left_leg", "right_leg"), "2_arms": ("left_arm", "right_arm"),
    "left_leg_left_arm": ("left_leg", "left_arm"), "right_leg_right_arm": ("right_leg", "right_arm"),
}
PARTIAL_CASES = ("right_leg", "left_leg", "left_arm", "right_arm")


# -- scoring -----------------------------------------------------------------------------
def h36m_subset(skel: Skeleton) -> np.ndarray | None:
    """(J,) mask of the Human3.6M 17 joints in a skeleton that has them and more (``anim19``:
    all but the toes), for the literature's MPJPE beside the whole skeleton's; None otherwise."""
    h36m = get_skeleton("h36m17")
    if skel.num_joints == h36m.num_joints or not set(h36m.joints) <= set(skel.joints):
        return None
    return np.isin(skel.joints, h36m.joints)


def score(
    preds: list[np.ndarray], views: list[EvalView], missing: list[np.ndarray] | None = None, h36m: np.ndarray | None = None,
    joints: Sequence[str] | None = None,
) -> dict:
    """Metrics over many views, frame-weighted within an action, then averaged over actions;
    with ``h36m`` (a joint mask, :func:`h36m_subset`) also ``mpjpe_h36m17`` over those joints.
    The breakdowns a researcher reads a model's errors by: ``mpjpe_per_action`` ({action:
    mm}, where actions are known; the Human3.6M papers' per-action table), ``mpjpe_per_clip``
    ({clip: {"mpjpe": mm, "frames", "action"}}, a clip being one motion through every camera:
    the views' name up to its last "/"; what ``compare_reports`` resamples for confidence
    intervals) and, given the skeleton's joint names ``joints``, ``mpjpe_per_joint``
    ({joint: mm}, averaged over actions like ``mpjpe``; joints without ground truth left
    out)."""
    per = {k: [] for k in ("mpjpe", "p_mpjpe", "pck150", "auc")}
    if h36m is not None:
        per["mpjpe_h36m17"] = []
    joint_err = []
    actions, accel, accel_actions = [], [], []
    missing_err, missing_actions = [], []
    for i, (pred, view) in enumerate(zip(preds, views)):
        gt = view.pose_3d
        # Frames without ground truth, or not evaluated (centre head with a frame stride), are left out.
        keep = np.isfinite(gt).any(-1).any(-1) & np.isfinite(pred).all(-1).all(-1)
        p, g = pred[keep], gt[keep]
        per["mpjpe"].append(metrics.mpjpe(p, g))
        joint_err.append(metrics.joint_errors(p, g))
        per["p_mpjpe"].append(metrics.p_mpjpe(p, g))
        per["pck150"].append(metrics.pck(p, g))
        per["auc"].append(metrics.auc(p, g))
        if h36m is not None:
            per["mpjpe_h36m17"].append(metrics.mpjpe(p, g, h36m))
        actions += [view.action] * len(p)
        if keep.all() and len(p) >= 3:
            accel.append(metrics.accel_error(p, g))
            accel_actions += [view.action] * (len(p) - 2)
        if missing is not None:
            missing_err.append(metrics.mpjpe(p, g, missing[i][keep]))
            missing_actions += [view.action] * len(p)
    scale = {"mpjpe": 1000.0, "p_mpjpe": 1000.0, "pck150": 100.0, "auc": 100.0, "mpjpe_h36m17": 1000.0}
    out = {k: metrics.average_by_action(np.concatenate(v), actions) * scale[k] for k, v in per.items()}
    out["accel"] = metrics.average_by_action(np.concatenate(accel), accel_actions) * 1000.0 if accel else float("nan")
    if missing is not None:
        out["mpjpe_missing"] = metrics.average_by_action(np.concatenate(missing_err), missing_actions) * 1000.0
    out["frames"] = int(sum(len(a) for a in per["mpjpe"]))
    by_action = metrics.means_by_action(np.concatenate(per["mpjpe"]), actions)
    if by_action:
        out["mpjpe_per_action"] = {a: round(v * 1000.0, 3) for a, v in by_action.items()}
    out["mpjpe_per_clip"] = per_clip(per["mpjpe"], views)
    if joints is not None:
        err = np.concatenate(joint_err)
        out["mpjpe_per_joint"] = {
            name: round(metrics.average_by_action(err[:, j], actions) * 1000.0, 3)
            for j, name in enumerate(joints) if np.isfinite(err[:, j]).any()
        }
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()}


def clip_name(view: EvalView) -> str:
    """The clip a view shows: its name up to the last "/" (``02/02_01/az45`` -> ``02/02_01``)."""
    return view.name.rsplit("/", 1)[0]


def per_clip(frame_errors: list[np.ndarray], views: list[EvalView]) -> dict[str, dict]:
    """{clip: {"mpjpe": mm over its frames in every view, "frames", "action"}} from each
    view's per-frame MPJPE (metres; NaN frames left out)."""
    sums: dict[str, list] = {}
    for err, view in zip(frame_errors, views):
        err = err[np.isfinite(err)]
        entry = sums.setdefault(clip_name(view), [0.0, 0, view.action])
        entry[0] += float(err.sum())
        entry[1] += len(err)
    return {clip: {"mpjpe": round(total / count * 1000.0, 3) if count else float("nan"), "frames": count, "action": action}
            for clip, (total, count, action) in sums.items()}


def occlusion_mask(case: str, view_index: int, frames: int, skel: Skeleton, seed: int) -> np.ndarray:
    """(F, J) visible mask of an ``occluded2d`` case (the same joints in every frame)."""
    spec = OCCLUSION_CASES[case]
    visible = np.ones((frames, skel.num_joints), bool)
    if isinstance(spec, int):
        rng = np.random.default_rng([seed, view_index, spec])
        candidates = [j for j in range(skel.num_joints) if j != skel.root]
        visible[:, rng.choice(candidates, size=spec, replace=False)] = False
    else:
        for limb in spec:
            visible[:, skel.limb_indices(limb)] = False
    return visible


# -- protocols ---------------------------------------------------------------------------
def run_lifting(predictor, views: list[EvalView], seed: int, noise_px: float, skel: Skeleton) -> dict[str, dict]:
    out = {}
    h36m = h36m_subset(skel)
    centring = [v.centring() for v in views]
    out["lift_gt2d"] = {"all": score(predictor.lift_many([(v.points, v.visible_2d) for v in views], centring), views, h36m=h36m, joints=skel.joints)}
    noisy = []
    for i, v in enumerate(views):
        rng = np.random.default_rng([seed, i, 3])
        noisy.append((_normalise(detector_noise(v.points_px, noise_px, skel, rng), v), v.visible_2d))
    out["lift_noisy2d"] = {"all": score(predictor.lift_many(noisy, centring), views, h36m=h36m, joints=skel.joints)}
    cases = {}
    for case in OCCLUSION_CASES:
        items = [(v.points, v.visible_2d & occlusion_mask(case, i, len(v.points), skel, seed)) for i, v in enumerate(views)]
        cases[case] = score(predictor.lift_many(items, centring), views, h36m=h36m, joints=skel.joints)
    out["occluded2d"] = cases
    return out


def run_partial(predictor, views: list[EvalView], skel: Skeleton) -> dict[str, dict]:
    cases = {}
    for limb in PARTIAL_CASES:
        items, missing = [], []
        for v in views:
            visible = np.isfinite(v.pose_3d).all(-1)
            hidden = np.zeros_like(visible)
            hidden[:, skel.limb_indices(limb)] = True
            items.append((v.pose_3d, visible & ~hidden))
            missing.append(hidden & visible)
        cases[limb] = score(predictor.complete_many(items), views, missing, joints=skel.joints)
    return {"partial3d": cases}


def run_real2d(predictor, views: list[EvalView], skel: Skeleton) -> dict[str, dict]:
    h36m = h36m_subset(skel)
    preds = predictor.lift_many([(v.points, v.visible_2d & (v.confidence > 0.3)) for v in views], [v.centring() for v in views])
    cases = {"all": score(preds, views, h36m=h36m, joints=skel.joints)}
    for cam in sorted({v.name.split("/")[-1] for v in views}):
        chosen = [(p, v) for p, v in zip(preds, views) if v.name.endswith("/" + cam)]
        cases[cam] = score([p for p, _ in chosen], [v for _, v in chosen], h36m=h36m, joints=skel.joints)
    return {"real2d": cases}


def detector_noise(points_px: np.ndarray, jitter_px: float, skel: Skeleton, rng: np.random.Generator) -> np.ndarray:
    """The calibrated noise model at a mean per-joint jitter of ``jitter_px`` pixels."""
    base = DetectorNoise()
    jitter = base.per_joint(base.jitter, base.default_jitter, skel)
    extent = np.nanmax(points_px[..., 1], axis=1) - np.nanmin(points_px[..., 1], axis=1)
    height = float(np.nanmedian(extent))
    level = jitter_px / (float(jitter.mean()) * height)
    model = replace(base, level=(level, level), occlusion_prob=0.0, default_dropout=0.0, dropout={})
    noisy, _ = model.apply(points_px, rng, skel, person_height_px=height)
    return np.where(np.isfinite(points_px), noisy, np.nan)


def _normalise(px: np.ndarray, view: EvalView) -> np.ndarray:
    from engine.coords import normalize_screen

    return normalize_screen(px, *view.image_size)


def evaluate(predictors: dict[str, object], views: list[EvalView], real_views: list[EvalView], skeleton: str, seed: int = 0, noise_px: float = 3.0, protocols=PROTOCOLS) -> dict[str, dict]:
    """{predictor name: {protocol: {case: metrics}}} for the protocols each predictor can run."""
    skel = get_skeleton(skeleton)
    results = {}
    for name, predictor in predictors.items():
        res: dict[str, dict] = {}
        if hasattr(predictor, "lift_many") and views:
            res.update({k: v for k, v in run_lifting(predictor, views, seed, noise_px, skel).items() if k in protocols})
        if hasattr(predictor, "complete_many") and views and "partial3d" in protocols:
            res.update(run_partial(predictor, views, skel))
        if hasattr(predictor, "lift_many") and real_views and "real2d" in protocols:
            res.update(run_real2d(predictor, real_views, skel))
        results[name] = res
    return results


# -- table -------------------------------------------------------------------------------
def format_table(report: dict) -> str:
    baselines = report.get("baselines", {})
    # The Human3.6M 17 joints' MPJPE (the literature's) beside the whole skeleton's, where the
    # skeleton has more joints.
    h36m = any("mpjpe_h36m17" in m for cases in report["protocols"].values() for m in cases.values())
    head = f"{'protocol':<14}{'case':<22}{'MPJPE':>8}{'P-MPJPE':>9}{'PCK150':>8}{'AUC':>7}{'accel':>7}"
    head += f"{'H36M-17':>9}" if h36m else ""
    head += "".join(f"{name[:10]:>11}" for name in baselines)
    lines = [head, "-" * len(head)]
    for protocol, cases in report["protocols"].items():
        for case, m in cases.items():
            row = f"{protocol:<14}{case:<22}{m['mpjpe']:>8.1f}{m['p_mpjpe']:>9.1f}{m['pck150']:>8.1f}{m['auc']:>7.1f}{m['accel']:>7.2f}"
            if h36m:
                row += f"{m['mpjpe_h36m17']:>9.1f}" if "mpjpe_h36m17" in m else f"{'-':>9}"
            if "mpjpe_missing" in m:
                row += f"  (missing {m['mpjpe_missing']:.1f})"
            for name, res in baselines.items():
                b = res.get(protocol, {}).get(case)
                key = "mpjpe_missing" if "mpjpe_missing" in m else "mpjpe"
                row += f"{b[key]:>11.1f}" if b else f"{'-':>11}"
            lines.append(row)
    if h36m:
        lines.append("H36M-17: MPJPE over the Human3.6M 17 joints only (the skeleton's other joints left out), mm")
    if baselines:
        lines.append("baseline columns: MPJPE (mpjpe_missing for partial3d), mm")
    return "\n".join(lines)


BREAKDOWN_PROTOCOLS = ("lift_gt2d", "lift_noisy2d")


def format_breakdown(report: dict, key: str) -> str:
    """The lifting protocols' MPJPE per action (``key="mpjpe_per_action"``) or per joint
    (``"mpjpe_per_joint"``), MPM beside the baselines that have it; "" when no case
    ``all`` of those protocols carries the breakdown."""
    columns = []  # (title, {row: mm})
    for protocol in BREAKDOWN_PROTOCOLS:
        sources = [("mpm", report["protocols"])] + list(report.get("baselines", {}).items())
        for name, protocols in sources:
            values = protocols.get(protocol, {}).get("all", {}).get(key)
            if values:
                columns.append((f"{name[:8]} {protocol.removeprefix('lift_')}", values))
    if not columns:
        return ""
    rows = list(dict.fromkeys(r for _, values in columns for r in values))
    label = key.removeprefix("mpjpe_per_")
    head = f"{'MPJPE by ' + label:<22}" + "".join(f"{title:>16}" for title, _ in columns)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r[:21]:<22}" + "".join(f"{values[r]:>16.1f}" if r in values else f"{'-':>16}" for _, values in columns))
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------------
# What makes two reports' numbers comparable: the same views of the same motion, cameras,
# noise and seed, on the same skeleton.
PROTOCOL_SETTINGS = ("data", "kind", "subjects", "real2d", "views", "real2d_views", "seed", "noise_px", "cameras", "view_centring", "baseline_flip")
# Settings an older report may lack, and what they were then.
SETTING_DEFAULTS = {"view_centring": False, "baseline_flip": False}


def reuse_baselines(report: dict, earlier: dict) -> list[str]:
    """Copy into ``report`` the learned baselines of an ``earlier`` report (a baseline
    checkpoint that is not at hand, or an hour of training not to repeat), after checking
    that both were measured under the same protocol settings. Baselines measured in this
    run win. Returns the names copied."""
    as_json = lambda value: json.loads(json.dumps(value))  # noqa: E731  (tuples read back as lists)
    differ = [k for k in PROTOCOL_SETTINGS if as_json(report.get(k, SETTING_DEFAULTS.get(k))) != earlier.get(k, SETTING_DEFAULTS.get(k))]
    if report["model"].get("skeleton") != earlier.get("model", {}).get("skeleton"):
        differ.append("skeleton")
    if differ:
        raise ValueError(f"cannot reuse baselines measured under other settings: {', '.join(differ)} differ")
    reused = [name for name in earlier.get("baselines", {}) if name not in report["baselines"]]
    for name in reused:
        report["baselines"][name] = earlier["baselines"][name]
    return reused


def load_views(path: str, kind: str, mapping: str | None, subjects: list[str], skeleton: str, fps: float, keypoints: str = "gt") -> list[EvalView]:
    from .datasets import load_clips
    from .run_config import DataSpec

    spec = DataSpec(path=path, kind=kind, mapping=mapping, subjects=tuple(subjects), options={"keypoints": keypoints})
    if kind == "motion":
        return views_from_clips(load_clips(spec), skeleton, fps)
    from .paper_data import load_paper_sequences

    return views_from_sequences(load_paper_sequences(spec, skeleton), skeleton, fps)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--data", help="motion the readers take (BVH/ASF folder or file, prepared .npz, or a paper layout with --kind)")
    ap.add_argument("--kind", default="motion", choices=("motion", "h36m", "3dhp"))
    ap.add_argument("--mapping", default=None, help="rig mapping preset or JSON for BVH files")
    ap.add_argument("--keypoints", default="gt", help="--kind h36m: the 2D file data_2d_h36m_<keypoints>.npz beside --data")
    ap.add_argument("--subjects", nargs="*", default=[], help="evaluate only these subjects")
    ap.add_argument("--real2d", default=None, help="a Pose2Sim session folder for the real2d protocol")
    ap.add_argument("--baseline", action="append", default=[], metavar="NAME=PATH", help="an MLP baseline checkpoint (repeatable)")
    ap.add_argument("--baselines-from", default=None, type=Path, metavar="REPORT",
                    help="reuse the learned baselines of an earlier report made under the same protocol settings (checked)")
    ap.add_argument("--head", default=None, choices=HEADS,
                    help="MPM lifting head: full (full-sequence windows a third of a window apart, averaged), centre (one window per frame, the paper's) or both (their mean; with --flip close to --runtime accurate, which cross-fades its full-sequence windows)")
    ap.add_argument("--flip", action="store_true",
                    help="MPM: average every window with its horizontal mirror (twice the compute)")
    ap.add_argument("--runtime", default=None, choices=MODES,
                    help="instead of --head/--flip: lift and complete through the engine's runtime in this mode, exactly as engine.api and the add-on do")
    ap.add_argument("--baseline-flip", action="store_true",
                    help="MLP baselines: average every frame with its horizontal mirror (to compare with --flip or --runtime accurate)")
    ap.add_argument("--frame-stride", type=int, default=1, help="centre head: evaluate every n-th frame (no accel then)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default; 1 is faster on a busy machine)")
    ap.add_argument("--protocols", nargs="*", default=list(PROTOCOLS), choices=PROTOCOLS)
    ap.add_argument("--noise-px", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-frames", type=int, default=0, help="cut every clip to this many frames (quick checks)")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    if not args.data and not args.real2d:
        ap.error("give --data and/or --real2d")
    if args.runtime and (args.head or args.flip or args.frame_stride != 1):
        ap.error("--runtime runs the engine's own mode: no --head, --flip or --frame-stride with it")
    head = None if args.runtime else args.head or "full"

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.time()
    model, ckpt = load_model(args.checkpoint)
    cfg = model.cfg
    views = load_views(args.data, args.kind, args.mapping, args.subjects, cfg.skeleton, cfg.fps, args.keypoints) if args.data else []
    if args.max_frames:
        for v in views:
            v.pose_3d, v.points_px = v.pose_3d[: args.max_frames], v.points_px[: args.max_frames]
    real_views = []
    if args.real2d and "real2d" in args.protocols:
        from .real2d import real2d_views

        real_views = real2d_views(args.real2d, cfg.skeleton, cfg.fps)
    predictors: dict[str, object] = {
        "mpm": RuntimePredictor(model, args.runtime) if args.runtime
        else MPMPredictor(model, head=head, frame_stride=args.frame_stride, flip=args.flip)
    }
    for item in args.baseline:
        name, _, path = item.partition("=")
        if not path:
            ap.error(f"--baseline {item!r}: expected NAME=PATH")
        from .baselines import load_baseline

        predictors[name] = MLPPredictor(load_baseline(path), cfg.skeleton, view_centring=cfg.view_centring, flip=args.baseline_flip)
    predictors["fill"] = FillPredictor(cfg.skeleton)
    results = evaluate(predictors, views, real_views, cfg.skeleton, args.seed, args.noise_px, tuple(args.protocols))
    report = {
        "checkpoint": str(args.checkpoint),
        "stage": ckpt.get("stage"),
        "model": cfg.to_dict(),
        "data": args.data, "kind": args.kind, "subjects": args.subjects, "real2d": args.real2d,
        "views": len(views), "real2d_views": len(real_views),
        "head": head, "flip": args.flip, "runtime": args.runtime, "baseline_flip": args.baseline_flip, "frame_stride": args.frame_stride, "seed": args.seed, "noise_px": args.noise_px,
        "cameras": EVAL_CAMERAS,
        # Lifters trained on centred views (the model's config) lift as if each camera were
        # aimed at the person, from its intrinsics; the MLP baselines do the same.
        "view_centring": cfg.view_centring,
        "protocols": results.pop("mpm"),
        "baselines": results,
        "seconds": round(time.time() - started, 1),
    }
    if args.baselines_from:
        reused = reuse_baselines(report, json.loads(args.baselines_from.read_text(encoding="utf-8")))
        report["baselines_from"] = {name: str(args.baselines_from) for name in reused}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(format_table(report))
    for key in ("mpjpe_per_action", "mpjpe_per_joint"):
        breakdown = format_breakdown(report, key)
        if breakdown:
            print("\n" + breakdown)
    print(f"wrote {args.out} ({report['seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    raise SystemExit(main())
