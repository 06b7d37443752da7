"""Make a shippable checkpoint from a training one: weights, network config, stage and
training metadata kept; optimizer, scaler, random-generator and loss-sum state dropped
(a quarter of the size; nothing a user of the model needs).

    python -m training.release_model runs/continue_base/stage2/final.pt \\
        --out assets/models/mpm_base.pt --note "stage II continued 3,000 steps on a 2-core CPU"

Each ``--note`` is appended to ``meta["history"]`` (carried over from ``--history-from``, e.g.
the checkpoint the run started from with ``train --init``), so the shipped file says how
it was made. ``--set view_centring=true`` changes a config field that says how the engine
runs the network, not what its weights are (``engine.config.INFERENCE_FIELDS``).
"""
from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from engine.checkpoint import load_model, read_checkpoint, save_checkpoint
from engine.config import INFERENCE_FIELDS, MPMConfig

KEPT = ("epoch", "step", "stage")


def parse_setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` for an inference field of the model config, VALUE typed like the field."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or key not in INFERENCE_FIELDS:
        raise ValueError(f"--set {text!r}: expected KEY=VALUE with KEY one of {', '.join(INFERENCE_FIELDS)}")
    kind = {f.name: f.type for f in fields(MPMConfig)}[key]
    if kind in (bool, "bool"):
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"--set {text!r}: expected true or false")
        return key, lowered == "true"
    raise ValueError(f"--set {text!r}: fields of type {kind} are not supported")


def release_checkpoint(
    src: Path, out: Path, notes: list[str] = (), history_from: Path | None = None, settings: dict[str, Any] | None = None
) -> Path:
    """Write ``src``'s weights and metadata (not its training state) to ``out`` atomically,
    with ``settings`` (inference fields only) changed in its model config."""
    model, ckpt = load_model(src)  # refuses weights that do not fit the config; drops DDP's "module." prefix
    for key in settings or {}:
        if key not in INFERENCE_FIELDS:
            raise ValueError(f"{key}: only {', '.join(INFERENCE_FIELDS)} may change without retraining")
    config = replace(model.cfg, **(settings or {}))
    meta = dict(ckpt.get("meta") or {})
    history = list(read_checkpoint(history_from).get("meta", {}).get("history", [])) if history_from else []
    history += [line for line in meta.get("history", []) if line not in history]
    history += list(notes)
    if history:
        meta["history"] = history
    return save_checkpoint(out, model, config, **{k: ckpt[k] for k in KEPT if k in ckpt}, meta=meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.release_model", description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--note", action="append", default=[], help="a line on how it was made, appended to meta.history (repeatable)")
    ap.add_argument("--history-from", type=Path, default=None, help="carry over this checkpoint's meta.history first")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                    help=f"change an inference field of the model config ({', '.join(INFERENCE_FIELDS)})")
    args = ap.parse_args(argv)
    try:
        settings = dict(parse_setting(text) for text in args.settings)
    except ValueError as exc:
        ap.error(str(exc))
    path = release_checkpoint(args.checkpoint, args.out, args.note, args.history_from, settings)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
