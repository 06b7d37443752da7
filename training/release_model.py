"""Make a shippable checkpoint from a training one: weights, network config, stage and
training metadata kept; optimizer, scaler, random-generator and loss-sum state dropped
(a quarter of the size; nothing a user of the model needs).

    python -m training.release_model runs/continue_base/stage2/final.pt \\
        --out assets/models/mpm_base.pt --note "stage II continued 3,000 steps on a 2-core CPU"

Each ``--note`` is appended to ``meta["history"]`` (carried over from ``--history-from``, e.g.
the checkpoint the run started from with ``train --init``), so the shipped file says how
it was made. ``--set view_centring=true`` changes a config field that says how the engine
runs the network, not what its weights are (``engine.config.INFERENCE_FIELDS``).

Several checkpoints of one network give their weighted mean (checkpoint averaging, a
"model soup"; ``--weights``, equal by default), with the last checkpoint's training
metadata (epoch, step, stage, meta) and ``meta["averaged_from"]`` naming the parts. Points
of one training path (a run and the checkpoint it continued) average well. BatchNorm's
running statistics are averaged too, which is exact when they did not move between the
points (``[stage] frozen_norm``).
"""
from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from engine.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from engine.config import INFERENCE_FIELDS, MPMConfig
from engine.model import MPM

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


def _network_fields(cfg: MPMConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.to_dict().items() if k not in INFERENCE_FIELDS}


def _shares(count: int, weights: Sequence[float] | None) -> list[float]:
    """Averaging weights (equal by default) checked and scaled to sum to one."""
    weights = [1.0] * count if weights is None else [float(w) for w in weights]
    if not count or len(weights) != count:
        raise ValueError(f"{count} checkpoints but {len(weights)} weights")
    if min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"weights {weights}: expected non-negative weights with a positive sum")
    return [w / sum(weights) for w in weights]


def average_weights(parts: Sequence[tuple[Path, MPM]], weights: Sequence[float] | None = None) -> dict[str, torch.Tensor]:
    """The weighted mean of several models' weights (``parts``: where each came from, and the
    model) as a state dict of the last one's network. Floating-point tensors are averaged (in
    float64); integer buffers (BatchNorm's batch counters) are the last model's. Refuses
    models of different networks (inference fields aside)."""
    shares = _shares(len(parts), weights)
    last_path, last = parts[-1]
    ours = _network_fields(last.cfg)
    for path, model in parts:
        theirs = _network_fields(model.cfg)
        if theirs != ours:
            differ = ", ".join(sorted(k for k in ours if theirs.get(k) != ours[k]))
            raise CheckpointError(f"{path}: not the network of {last_path} ({differ} differ); only one network's weights average")
    states = [model.state_dict() for _, model in parts]
    return {
        key: sum(share * state[key].double() for share, state in zip(shares, states)).to(value.dtype)
        if value.is_floating_point() else value
        for key, value in states[-1].items()
    }


def release_checkpoint(
    src: Path | Sequence[Path],
    out: Path,
    notes: Sequence[str] = (),
    history_from: Path | None = None,
    settings: dict[str, Any] | None = None,
    weights: Sequence[float] | None = None,
) -> Path:
    """Write ``src``'s weights and metadata (not its training state) to ``out`` atomically,
    with ``settings`` (inference fields only) changed in its model config. Several
    checkpoints are averaged (``average_weights``), with the last one's metadata."""
    sources = [Path(p) for p in src] if isinstance(src, (list, tuple)) else [Path(src)]
    # Each refuses weights that do not fit its config and drops DDP's "module." prefix.
    loaded = [load_model(path) for path in sources]
    model, ckpt = loaded[-1]
    meta = dict(ckpt.get("meta") or {})
    if len(sources) > 1 or weights is not None:
        model.load_state_dict(average_weights([(path, m) for path, (m, _) in zip(sources, loaded)], weights))
        shares = _shares(len(sources), weights)
        meta["averaged_from"] = [{"checkpoint": str(path), "weight": w} for path, w in zip(sources, shares)]
    for key in settings or {}:
        if key not in INFERENCE_FIELDS:
            raise ValueError(f"{key}: only {', '.join(INFERENCE_FIELDS)} may change without retraining")
    config = replace(model.cfg, **(settings or {}))
    history = list(read_checkpoint(history_from).get("meta", {}).get("history", [])) if history_from else []
    for _, part in loaded:  # every part's history, in order, each line once
        history += [line for line in (part.get("meta") or {}).get("history", []) if line not in history]
    history += list(notes)
    if history:
        meta["history"] = history
    return save_checkpoint(out, model, config, **{k: ckpt[k] for k in KEPT if k in ckpt}, meta=meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.release_model", description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path, nargs="+", help="a checkpoint, or several of one network to average")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--weights", type=float, nargs="+", default=None, help="averaging weights, one per checkpoint (default: equal)")
    ap.add_argument("--note", action="append", default=[], help="a line on how it was made, appended to meta.history (repeatable)")
    ap.add_argument("--history-from", type=Path, default=None, help="carry over this checkpoint's meta.history first")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                    help=f"change an inference field of the model config ({', '.join(INFERENCE_FIELDS)})")
    args = ap.parse_args(argv)
    if args.weights is not None and len(args.weights) != len(args.checkpoint):
        ap.error(f"{len(args.checkpoint)} checkpoints but {len(args.weights)} --weights")
    try:
        settings = dict(parse_setting(text) for text in args.settings)
    except ValueError as exc:
        ap.error(str(exc))
    path = release_checkpoint(args.checkpoint, args.out, args.note, args.history_from, settings, args.weights)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
