"""How lifting depends on where the person is in the image (a script, not a test).

The clips of the held-out subjects are seen by two of the evaluation cameras
(training.eval_views: azimuths 45 and 225 degrees, elevation 10, 50-degree field of view,
aimed at the clip's centre); each camera is then panned (about its own y axis) or tilted
(about its x axis) by a few degrees, which moves the person off-centre in the image and
turns the camera-space ground truth with it. The checkpoint lifts every case twice:
plainly, and with view centring (engine.perspective, from the camera's intrinsics).
Prints MPJPE / P-MPJPE per case and writes JSON.

    python benchmarks/bench_view_centring.py --checkpoint assets/models/mpm_base.pt \\
        --data build/data/cmu_all.npz --subjects 02 --json view_centring.json
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.checkpoint import load_model  # noqa: E402
from engine.perspective import pan_tilt  # noqa: E402
from engine.skeleton import get_skeleton  # noqa: E402
from training.datasets import load_clips  # noqa: E402
from training.eval_views import views_from_clips  # noqa: E402
from training.evaluate import score  # noqa: E402
from training.predictors import MPMPredictor  # noqa: E402
from training.run_config import DataSpec  # noqa: E402

CASES = ((0, 0), (12, 0), (-12, 0), (20, 0), (0, 12), (0, -12))  # (pan, tilt) degrees
AZIMUTHS = (45.0, 225.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--data", required=True, help="motion the readers take (prepared .npz, BVH/ASF folder)")
    ap.add_argument("--subjects", nargs="*", default=[])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, _ = load_model(args.checkpoint)
    model.cfg = replace(model.cfg, view_centring=True)  # the predictor centres only a model that declares it
    root = get_skeleton(model.cfg.skeleton).root
    clips = load_clips(DataSpec(path=args.data, subjects=tuple(args.subjects)))
    rows = []
    print(f"{'pan':>5}{'tilt':>6}{'root off-centre px':>20}{'plain':>9}{'centred':>9}{'P-MPJPE':>9}")
    for pan, tilt in CASES:
        turn = pan_tilt(np.radians(pan), np.radians(tilt))
        views = views_from_clips(clips, model.cfg.skeleton, model.cfg.fps, AZIMUTHS, turn)
        items = [(v.points, v.visible_2d) for v in views]
        offsets = np.concatenate([np.linalg.norm(v.points_px[:, root] - np.asarray(v.image_size) / 2, axis=-1) for v in views])
        row = {"pan_deg": pan, "tilt_deg": tilt, "root_offset_px": float(np.nanmedian(offsets))}
        for name, centring in (("plain", None), ("centred", [v.centring() for v in views])):
            row[name] = score(MPMPredictor(model, head="full").lift_many(items, centring), views)
        rows.append(row)
        print(f"{pan:>5}{tilt:>6}{row['root_offset_px']:>20.0f}{row['plain']['mpjpe']:>9.1f}{row['centred']['mpjpe']:>9.1f}"
              f"{row['centred']['p_mpjpe']:>9.1f}")
    if args.json:
        args.json.write_text(json.dumps({"checkpoint": str(args.checkpoint), "subjects": args.subjects, "cases": rows}, indent=1))
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    raise SystemExit(main())
