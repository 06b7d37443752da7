"""Make a shippable checkpoint from a training one: weights, network config, stage and
training metadata kept; optimizer, scaler, random-generator and loss-sum state dropped
(a quarter of the size; nothing a user of the model needs).

    python -m training.release_model runs/continue_base/stage2/final.pt \\
        --out assets/models/mpm_base.pt --note "stage II continued 3,000 steps on a 2-core CPU"

Each ``--note`` is appended to ``meta["history"]`` (carried over from ``--history-from``, e.g.
the checkpoint the run started from with ``train --init``), so the shipped file says how
it was made.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from engine.checkpoint import load_model, read_checkpoint, save_checkpoint

KEPT = ("epoch", "step", "stage")


def release_checkpoint(src: Path, out: Path, notes: list[str] = (), history_from: Path | None = None) -> Path:
    """Write ``src``'s weights and metadata (not its training state) to ``out`` atomically."""
    model, ckpt = load_model(src)  # refuses weights that do not fit the config; drops DDP's "module." prefix
    meta = dict(ckpt.get("meta") or {})
    history = list(read_checkpoint(history_from).get("meta", {}).get("history", [])) if history_from else []
    history += [line for line in meta.get("history", []) if line not in history]
    history += list(notes)
    if history:
        meta["history"] = history
    return save_checkpoint(out, model, model.cfg, **{k: ckpt[k] for k in KEPT if k in ckpt}, meta=meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.release_model", description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--note", action="append", default=[], help="a line on how it was made, appended to meta.history (repeatable)")
    ap.add_argument("--history-from", type=Path, default=None, help="carry over this checkpoint's meta.history first")
    args = ap.parse_args(argv)
    path = release_checkpoint(args.checkpoint, args.out, args.note, args.history_from)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
