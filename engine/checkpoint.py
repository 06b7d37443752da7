"""Checkpoint files: a plain dict, loaded with ``weights_only=True`` so no code runs from it.

Layout (docs/contracts.md)::

    {"format": "mpm-checkpoint", "version": 1,
     "config": MPMConfig.to_dict(), "model": state_dict,
     "optimizer": state_dict | None, "epoch": int, "step": int,
     "stage": "pretrain" | "finetune", "meta": {...}}
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .config import MPMConfig
from .model import MPM

FORMAT = "mpm-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A file that is not an MPM checkpoint, or one that does not fit its config."""


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, config: MPMConfig, **extra: Any) -> Path:
    """Write a checkpoint atomically (temporary file, then rename), so a killed run never
    leaves a half-written file where the last good one was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = getattr(model, "module", model)  # unwrap DistributedDataParallel
    payload = {"format": FORMAT, "version": VERSION, "config": config.to_dict(), "model": module.state_dict(), **extra}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a checkpoint dict without building a model."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip or weights-only refusals all mean "not ours"
        raise CheckpointError(f"{path} is not a loadable MPM checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an MPM checkpoint (no 'format': '{FORMAT}' entry)")
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} is checkpoint version {ckpt['version']}; this engine reads up to {VERSION}")
    for key in ("config", "model"):
        if key not in ckpt:
            raise CheckpointError(f"{path} lacks the '{key}' entry")
    return ckpt


def strip_module_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix DataParallel/DistributedDataParallel adds to every key."""
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[MPM, dict[str, Any]]:
    """Build the model a checkpoint describes and load its weights (eval mode)."""
    ckpt = read_checkpoint(path)
    try:
        config = MPMConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: invalid model config: {exc}") from None
    model = MPM(config)
    state = strip_module_prefix(ckpt["model"])
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        problems = [
            f"{label} {items[:5]}"
            for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
            if items
        ]
        raise CheckpointError(f"{path}: weights do not fit the config they were saved with: {'; '.join(problems)}")
    model.load_state_dict(state)
    return model.to(device).eval(), ckpt
