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


def average_weights(sources: Sequence[Path], weights: Sequence[float] | None = None) -> tuple[MPM, dict[str, Any]]:
    """The weighted mean of several checkpoints' weights, loaded into the last one's model
    and returned with the last one's checkpoint dict. Floating-point tensors are averaged
    (in float64); integer buffers (BatchNorm's batch counters) are the last checkpoint's.
    Refuses checkpoints of different networks (inference fields aside)."""
    weights = [1.0] * len(sources) if weights is None else [float(w) for w in weights]
    if not sources or len(weights) != len(sources):
        raise ValueError(f"{len(sources)} checkpoints but {len(weights)} weights")
    if min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"weights {weights}: expected non-negative weights with a positive sum")
    loaded = [load_model(path) for path in sources]  # each refuses weights that do not fit its config
    model, ckpt = loaded[-1]
    for path, (other, _) in zip(sources, loaded):
        theirs, ours = _network_fields(other.cfg), _network_fields(model.cfg)
        if theirs != ours:
            differ = ", ".join(sorted(k for k in ours if theirs.get(k) != ours[k]))
            raise CheckpointError(f"{path}: not the network of {sources[-1]} ({differ} differ); only one network's weights average")
    total = sum(weights)
    states = [m.state_dict() for m, _ in loaded]
    mean = {}
    for key, value in states[-1].items():
        if value.is_floating_point():
            mean[key] = sum(w / total * state[key].double() for w, state in zip(weights, states)).to(value.dtype)
        else:
            mean[key] = value
    model.load_state_dict(mean)
    parts = [{"checkpoint": str(path), "weight": w / total} for path, w in zip(sources, weights)]
    return model, {**ckpt, "meta": {**(ckpt.get("meta") or {}), "averaged_from": parts}}


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
    checkpoints are averaged first (``average_weights``)."""
    sources = [Path(p) for p in src] if isinstance(src, (list, tuple)) else [Path(src)]
    if len(sources) > 1 or weights is not None:
        model, ckpt = average_weights(sources, weights)
    else:
        model, ckpt = load_model(sources[0])  # refuses weights that do not fit the config; drops DDP's "module." prefix
    for key in settings or {}:
        if key not in INFERENCE_FIELDS:
            raise ValueError(f"{key}: only {', '.join(INFERENCE_FIELDS)} may change without retraining")
    config = replace(model.cfg, **(settings or {}))
    meta = dict(ckpt.get("meta") or {})
    history = list(read_checkpoint(history_from).get("meta", {}).get("history", [])) if history_from else []
    for path in sources:  # every part's history, in order, each line once
        part = meta if path == sources[-1] else read_checkpoint(path).get("meta") or {}
        history += [line for line in part.get("history", []) if line not in history]
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
