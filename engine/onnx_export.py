"""Export a model to an ONNX model set: one file per job, ``<stem>.<job>.onnx``.

Uses torch's ``torch.export``-based exporter (``dynamo=True``; the TorchScript exporter is
deprecated since torch 2.9 and gives a graph about 2.5x larger for this network) at a pinned
opset. Batch and window length are dynamic (length 1..num_frames; the centre-frame job has
the fixed window length it needs). The model config travels in each file's metadata
(``mpm_config``), so the ONNX Runtime backend needs nothing else. Export needs torch and
onnx; inference from the written files needs neither.

``precision="fp16"`` stores weights and computes in float16 (onnxconverter-common's
converter) while the inputs and outputs stay float32, so the backend and the add-on use an
fp16 set exactly like an fp32 one. It halves the files; it is meant for GPU providers
(CUDA, DirectML, CoreML) - ONNX Runtime's CPU provider runs few float16 kernels.
:func:`precision_gap` measures what it costs on real data (docs/engine-runtime.md).
"""
from __future__ import annotations

import json
import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnxscript import ir
from onnxscript import opset18 as op

from .backends import CONFIG_METADATA_KEY, JOB_INPUT_CHANNELS, JOB_METADATA_KEY, JOB_OUTPUT_NAME, JOBS, job_forward
from .checkpoint import load_model
from .model import MPM

# Opset 18: the exporter's native opset in torch 2.x (and the opset of the attention
# translation below); ONNX Runtime 1.14+ runs it.
OPSET = 18
PRECISIONS = ("fp32", "fp16")
PRECISION_METADATA_KEY = "mpm_precision"


def export_onnx(
    source: Any, out_stem: str | os.PathLike, jobs: tuple[str, ...] = JOBS, precision: str = "fp32"
) -> dict[str, Path]:
    """Export ``source`` (an ``MPM`` or a checkpoint path) to ``<out_stem>.<job>.onnx`` files.

    ``precision``: ``fp32`` or ``fp16`` (float16 inside, float32 inputs and outputs).
    Returns the written paths by job."""
    import onnx

    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    to_fp16 = _fp16_converter() if precision == "fp16" else None

    if isinstance(source, MPM):
        model = source
    else:
        model, _ = load_model(source)
    unknown = [j for j in jobs if j not in JOBS]
    if unknown:
        raise ValueError(f"unknown jobs {unknown}; jobs: {', '.join(JOBS)}")
    was_training, device = model.training, next(model.parameters()).device
    model = model.cpu().eval()
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.cfg
    metadata = {CONFIG_METADATA_KEY: json.dumps(cfg.to_dict()), PRECISION_METADATA_KEY: precision}
    written = {}
    # The exporter logs a warning per missing torchvision operator; nothing here uses torchvision.
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    log_level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    try:
        for job in jobs:
            path = out_stem.with_name(f"{out_stem.name}.{job}.onnx")
            wrapper = _JobModule(model, job).eval()
            example = (
                torch.zeros(2, cfg.num_frames, cfg.num_joints, JOB_INPUT_CHANNELS[job]),
                torch.ones(2, cfg.num_frames, cfg.num_joints, dtype=torch.bool),
            )
            batch = torch.export.Dim("batch", min=1)
            axes: dict[int, Any] = {0: batch}
            if job != "lift_centre":
                axes[1] = torch.export.Dim("frames", min=1, max=cfg.num_frames)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the exporter's deprecation and renaming chatter
                program = torch.onnx.export(
                    wrapper,
                    example,
                    input_names=["pose", "visible"],
                    output_names=[JOB_OUTPUT_NAME[job]],
                    opset_version=OPSET,
                    dynamo=True,
                    dynamic_shapes={"pose": axes, "visible": dict(axes)},
                    custom_translation_table={torch.ops.aten.scaled_dot_product_attention.default: _attention},
                    verbose=False,
                )
            proto = program.model_proto
            if to_fp16 is not None:
                proto = to_fp16(proto)
            for key, value in {**metadata, JOB_METADATA_KEY: job}.items():
                entry = proto.metadata_props.add()
                entry.key, entry.value = key, value
            proto.doc_string = f"MPM {job} ({cfg.skeleton}, {cfg.num_frames} frames)"
            tmp = path.with_name(path.name + ".tmp")
            onnx.save_model(proto, tmp)
            os.replace(tmp, path)
            written[job] = path
    finally:
        model.to(device).train(was_training)
        registry_log.setLevel(log_level)
    return written


def _fp16_converter():
    """float32 -> float16 graph conversion keeping float32 inputs and outputs."""
    try:
        from onnxconverter_common import float16
    except ImportError:
        raise ImportError("an fp16 export needs onnxconverter-common (pip install onnxconverter-common)") from None

    def convert(proto):
        with warnings.catch_warnings():
            # Constants outside float16's range are clamped (the attention bias becomes
            # -1e4, still a zero weight after softmax); the converter warns for each.
            warnings.simplefilter("ignore", UserWarning)
            return float16.convert_float_to_float16(proto, keep_io_types=True)

    return convert


def precision_gap(
    reference: dict[str, Path], candidate: dict[str, Path], job: str, pose: np.ndarray, visible: np.ndarray, truth: np.ndarray
) -> dict[str, float]:
    """MPJPE (mm) of two ONNX sets' ``job`` against ``truth`` on the same inputs, and the
    mean per-joint distance between their outputs: the cost of a lower precision."""
    from .backends import OnnxRuntimeBackend

    outputs = [OnnxRuntimeBackend(paths, device="cpu").run(job, pose, visible) for paths in (reference, candidate)]
    valid = np.isfinite(truth).all(-1)
    err = [np.linalg.norm(out - np.nan_to_num(truth), axis=-1)[valid].mean() * 1000.0 for out in outputs]
    return {
        "mpjpe_reference_mm": float(err[0]),
        "mpjpe_candidate_mm": float(err[1]),
        "mpjpe_difference_mm": float(abs(err[1] - err[0])),
        "output_distance_mm": float(np.linalg.norm(outputs[1] - outputs[0], axis=-1).mean() * 1000.0),
    }


def _attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """ONNX for ``scaled_dot_product_attention`` with a key mask, as one additive bias.

    The exporter's own translation also guards against fully masked rows (IsNaN + Where
    over every attention matrix, about 15% of CPU inference time); the network never
    masks a whole row (a window without visible frames attends everywhere), and the bias
    is the finite float32 minimum, so softmax stays finite and the guard is dead weight."""
    if is_causal or enable_gqa or dropout_p:
        raise NotImplementedError("the MPM export handles plain (non-causal, no dropout) attention only")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = op.MatMul(op.Mul(query, op.Constant(value_float=scale)), op.Transpose(key, perm=[0, 1, 3, 2]))
    if attn_mask is not None and attn_mask.dtype == ir.DataType.BOOL:
        blocked = op.Constant(value_float=float(np.finfo(np.float32).min))
        scores = op.Add(scores, op.Where(attn_mask, op.Constant(value_float=0.0), blocked))
    elif attn_mask is not None:
        scores = op.Add(scores, attn_mask)
    return op.MatMul(op.Softmax(scores, axis=-1), value)


class _JobModule(torch.nn.Module):
    """One job of the network as a module with (pose, visible) inputs."""

    def __init__(self, model: torch.nn.Module, job: str) -> None:
        super().__init__()
        self.model = model
        self.job = job

    def forward(self, pose: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        return job_forward(self.model, self.job, pose, visible)
