"""Analytic FLOP count of the MPM network: 2 x multiply-adds of every linear layer,
convolution and attention matrix product (QK^T and attention x V). Normalisations,
activations, softmax and additions are left out, as in the papers' counts.

Torch-free, so the benchmark and the ONNX Runtime path can use it.
"""
from __future__ import annotations

from .config import MPMConfig

HEADS = ("centre", "full", "2d")


def _block_macs(tokens: int, dim: int, ffn: int) -> int:
    """One transformer block over ``tokens`` frames (multi-head attention costs the same MACs
    as single-head at the same width)."""
    projections = tokens * (3 * dim * dim + dim * dim)
    attention = 2 * tokens * tokens * dim  # QK^T and attention x V
    return projections + attention + tokens * 2 * dim * ffn


def encoder_macs(cfg: MPMConfig, frames: int, channels: int = 2) -> int:
    """Frame encoder, spatial block and temporal transformer over a ``frames``-frame window."""
    j, hidden, width = cfg.num_joints, cfg.encoder_hidden, cfg.width
    per_frame = j * channels * hidden + 2 * hidden * hidden + hidden * width
    return frames * per_frame + cfg.depth * _block_macs(frames, width, cfg.ffn)


def decoder_macs(cfg: MPMConfig, frames: int, channels: int) -> int:
    """A stage-I decoder (full-sequence 3D lifting head or 2D decoder)."""
    dw = cfg.decoder_width
    return frames * (cfg.width * dw + dw * cfg.num_joints * channels) + _block_macs(frames, dw, cfg.decoder_ffn)


def centre_head_macs(cfg: MPMConfig) -> int:
    """The strided transformer reducing a full window to its centre frame."""
    macs, length, width = 0, cfg.num_frames, cfg.width
    for stride in cfg.strides:
        attention = length * 4 * width * width + 2 * length * length * width
        ffn = length * width * cfg.ffn + (length // stride) * cfg.ffn * width * stride
        macs += attention + ffn
        length //= stride
    return macs + width * cfg.num_joints * 3


def window_flops(cfg: MPMConfig, head: str = "centre", frames: int | None = None, channels: int = 2) -> int:
    """FLOPs of one window: 2D (or 3D, ``channels=3``) input through the encoder and one head.

    ``head``: ``centre`` (centre-frame lifting, needs the full window), ``full``
    (full-sequence 3D) or ``2d`` (2D decoder). ``frames`` defaults to ``num_frames``."""
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; heads: {', '.join(HEADS)}")
    frames = cfg.num_frames if frames is None else frames
    if head == "centre" and frames != cfg.num_frames:
        raise ValueError(f"the centre-frame head needs {cfg.num_frames} frames, got {frames}")
    macs = encoder_macs(cfg, frames, channels)
    if head == "centre":
        macs += centre_head_macs(cfg)
    else:
        macs += decoder_macs(cfg, frames, 2 if head == "2d" else 3)
    return 2 * macs


# Which head and input channels each backend job runs.
JOB_HEADS = {"lift_full": ("full", 2), "lift_centre": ("centre", 2), "complete_3d": ("full", 3), "complete_2d": ("2d", 2)}


def job_flops(cfg: MPMConfig, job: str, frames: int | None = None) -> int:
    head, channels = JOB_HEADS[job]
    return window_flops(cfg, head, frames, channels)
