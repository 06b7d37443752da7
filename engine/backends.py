"""Inference backends: one interface over PyTorch and ONNX Runtime.

A backend runs one *job* on a batch of pose windows:

=============  ===================  =====================
job            input ``pose``       output
=============  ===================  =====================
lift_full      (B, T, J, 2)         (B, T, J, 3) ``pose_3d``
lift_centre    (B, N, J, 2)         (B, J, 3) ``pose_3d``
complete_3d    (B, T, J, 3)         (B, T, J, 3) ``pose_3d``
complete_2d    (B, T, J, 2)         (B, T, J, 2) ``pose_2d``
=============  ===================  =====================

with ``visible`` (B, T, J) bool, T <= N = ``config.num_frames`` (the centre-frame job needs
T == N). 2D is image-normalised, 3D root-relative camera-space metres.

This module imports neither torch nor onnxruntime at import time: the ONNX Runtime path
(inside Blender) must work without torch.
"""
from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from .config import MPMConfig

JOBS = ("lift_full", "lift_centre", "complete_3d", "complete_2d")
JOB_INPUT_CHANNELS = {"lift_full": 2, "lift_centre": 2, "complete_3d": 3, "complete_2d": 2}
JOB_OUTPUT_NAME = {"lift_full": "pose_3d", "lift_centre": "pose_3d", "complete_3d": "pose_3d", "complete_2d": "pose_2d"}
CONFIG_METADATA_KEY = "mpm_config"
JOB_METADATA_KEY = "mpm_job"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
# Preferred ONNX Runtime providers, fastest first; CPU is always the fallback.
GPU_PROVIDERS = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider")


class BackendError(ValueError):
    """A model file or backend request that cannot be served."""


class Backend(ABC):
    """Runs the MPM jobs on numpy batches. ``config`` describes the network."""

    name: str
    config: MPMConfig
    device: str
    # Frames per batch the runtime aims for (windows x window length): big enough for
    # efficient matrix products, small enough for cache and attention memory.
    batch_frames: int = 2048

    def run(self, job: str, pose: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """Run ``job`` on a batch; checks shapes and dtypes before the framework sees them."""
        self._check_batch(job, pose, visible)
        return self._run(job, pose, visible)

    @abstractmethod
    def _run(self, job: str, pose: np.ndarray, visible: np.ndarray) -> np.ndarray: ...

    def _check_batch(self, job: str, pose: np.ndarray, visible: np.ndarray) -> None:
        if job not in JOBS:
            raise ValueError(f"unknown job {job!r}; jobs: {', '.join(JOBS)}")
        cfg = self.config
        channels = JOB_INPUT_CHANNELS[job]
        if pose.dtype != np.float32 or visible.dtype != np.bool_:
            raise TypeError(f"{job}: expected pose float32 and visible bool, got {pose.dtype} and {visible.dtype}")
        if pose.ndim != 4 or pose.shape[2:] != (cfg.num_joints, channels):
            raise ValueError(
                f"{job}: expected pose of shape (batch, frames, {cfg.num_joints}, {channels}) "
                f"for skeleton {cfg.skeleton!r}, got {pose.shape}"
            )
        if visible.shape != pose.shape[:3]:
            raise ValueError(f"{job}: visible shape {visible.shape} does not match pose shape {pose.shape[:3]}")
        frames = pose.shape[1]
        if job == "lift_centre" and frames != cfg.num_frames:
            raise ValueError(f"{job}: the centre-frame head needs windows of exactly {cfg.num_frames} frames, got {frames}")
        if not 1 <= frames <= cfg.num_frames:
            raise ValueError(f"{job}: windows must have 1..{cfg.num_frames} frames, got {frames}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device!r}, skeleton={self.config.skeleton!r})"


def job_forward(model: Any, job: str, pose: Any, visible: Any) -> Any:
    """The network computation of one job on torch tensors (shared by the torch backend and
    the ONNX export, so both run exactly the same graph)."""
    latent, frame_visible = model.encode(pose, visible)
    if job == "complete_2d":
        return model.decode_2d(latent, frame_visible, model.input_frame(pose, visible))
    if job == "lift_centre":
        return model.decode_centre(latent, frame_visible)
    return model.decode_3d(latent, frame_visible)


class TorchBackend(Backend):
    """PyTorch on CPU, or CUDA when present."""

    name = "torch"
    # Measured on the paper network: torch's per-call costs (weight layout conversions for
    # the strided convolutions, copies) halve accurate-mode time at 32 windows per batch
    # instead of 8; ONNX Runtime is a little faster at 8.
    batch_frames = 8192

    def __init__(self, model: Any, device: str | None = None, threads: int | None = None) -> None:
        import torch

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device == "gpu":
            device = "cuda"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"device {device!r} requested but torch sees no CUDA device")
        if threads is not None:
            torch.set_num_threads(threads)
        self._torch = torch
        self.device = device
        self.model = model.to(device).eval()
        self.config = model.cfg

    def _run(self, job: str, pose: np.ndarray, visible: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(pose).to(self.device, non_blocking=True)
            v = torch.from_numpy(visible).to(self.device, non_blocking=True)
            return job_forward(self.model, job, x, v).float().cpu().numpy()


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime over an ONNX model set (one file per job); never imports torch.

    Sessions open lazily, on a job's first use, so loading a set is cheap."""

    name = "onnxruntime"

    def __init__(self, paths: dict[str, Path], device: str | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        if not paths:
            raise BackendError("an ONNX model set needs at least one job file")
        self._ort = ort
        self.paths = dict(paths)
        self.threads = threads
        self.providers = _choose_providers(ort.get_available_providers(), device)
        self.device = "cpu" if self.providers[0] == "CPUExecutionProvider" else self.providers[0]
        self._sessions: dict[str, Any] = {}
        first_job = next(iter(self.paths))
        self.config = self._read_config(first_job, self._session(first_job))

    def _read_config(self, job: str, session: Any) -> MPMConfig:
        meta = session.get_modelmeta().custom_metadata_map
        path = self.paths[job]
        if CONFIG_METADATA_KEY not in meta:
            raise BackendError(f"{path} has no '{CONFIG_METADATA_KEY}' metadata: it was not exported by engine.onnx_export")
        try:
            return MPMConfig.from_dict(json.loads(meta[CONFIG_METADATA_KEY]))
        except (TypeError, ValueError, KeyError) as exc:
            raise BackendError(f"{path}: invalid '{CONFIG_METADATA_KEY}' metadata: {exc}") from None

    def _session(self, job: str) -> Any:
        if job in self._sessions:
            return self._sessions[job]
        if job not in self.paths:
            raise BackendError(
                f"this ONNX model set has no {job!r} model (has: {', '.join(self.paths)}); "
                "export it with `python -m engine export --jobs ...`"
            )
        ort = self._ort
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads is not None:
            options.intra_op_num_threads = self.threads
        if "DmlExecutionProvider" in self.providers:  # DirectML cannot use memory patterns or parallel execution
            options.enable_mem_pattern = False
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            session = ort.InferenceSession(str(self.paths[job]), sess_options=options, providers=self.providers)
        except Exception as exc:  # ORT raises its own exception types for corrupt or foreign files
            raise BackendError(f"{self.paths[job]} is not a loadable ONNX model ({type(exc).__name__}: {exc})") from None
        if hasattr(self, "config"):
            config = self._read_config(job, session)
            if config != self.config:
                raise BackendError(f"{self.paths[job]} was exported from another model than the rest of its set")
        self._sessions[job] = session
        return session

    def _run(self, job: str, pose: np.ndarray, visible: np.ndarray) -> np.ndarray:
        session = self._session(job)
        return session.run([JOB_OUTPUT_NAME[job]], {"pose": pose, "visible": visible})[0]


def _choose_providers(available: list[str], device: str | None) -> list[str]:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    gpu = [p for p in GPU_PROVIDERS if p in available]
    if device is not None and device.startswith("cuda"):
        if "CUDAExecutionProvider" not in available:
            raise BackendError(f"device {device!r} requested but ONNX Runtime has no CUDA provider (has {available})")
        gpu = ["CUDAExecutionProvider"]
    elif device not in (None, "gpu"):
        raise BackendError(f"unknown device {device!r}; expected None (auto), 'cpu', 'cuda' or 'gpu'")
    return gpu + ["CPUExecutionProvider"]


def onnx_set_paths(path: str | os.PathLike) -> dict[str, Path]:
    """The job files of an ONNX model set, given one of its files, its stem
    (``dir/model`` for ``dir/model.<job>.onnx``) or a folder holding exactly one set."""
    path = Path(path)
    if path.is_dir():
        stems = sorted({f.name[: -len(f".{job}.onnx")] for job in JOBS for f in path.glob(f"*.{job}.onnx")})
        if len(stems) != 1:
            found = ", ".join(stems) if stems else "none"
            raise BackendError(f"folder {path} should hold exactly one ONNX model set <stem>.<job>.onnx; found: {found}")
        stem = path / stems[0]
    else:
        stem = path
        for job in JOBS:
            if path.name.endswith(f".{job}.onnx"):
                stem = path.with_name(path.name[: -len(f".{job}.onnx")])
    paths = {job: stem.with_name(f"{stem.name}.{job}.onnx") for job in JOBS}
    paths = {job: p for job, p in paths.items() if p.is_file()}
    if not paths:
        raise BackendError(
            f"no ONNX model set at {path}: expected files {stem.name}.<job>.onnx with jobs {', '.join(JOBS)}"
        )
    return paths


def load_backend(
    path: str | os.PathLike, backend: str = "auto", device: str | None = None, threads: int | None = None
) -> Backend:
    """Open a model for inference.

    ``path``: a PyTorch checkpoint (``.pt``) or an ONNX model set (see :func:`onnx_set_paths`).
    ``backend``: ``auto`` (torch for a checkpoint, ONNX Runtime for an ONNX set), ``torch`` or
    ``onnxruntime``. ``device``: None picks a GPU when present; ``cpu`` or ``cuda`` force one.
    """
    if backend not in ("auto", "torch", "onnxruntime"):
        raise ValueError(f"unknown backend {backend!r}; expected 'auto', 'torch' or 'onnxruntime'")
    path = Path(path)
    if path.suffix in CHECKPOINT_SUFFIXES:
        if backend == "onnxruntime":
            raise BackendError(
                f"{path} is a PyTorch checkpoint; ONNX Runtime needs an ONNX model set: "
                f"export it first (`python -m engine export {path} --out <stem>`)"
            )
        try:
            from .checkpoint import load_model
        except ImportError as exc:
            raise BackendError(
                f"{path} is a PyTorch checkpoint but torch is not installed ({exc}); "
                "use an exported ONNX model set instead"
            ) from None
        model, _ = load_model(path)
        return TorchBackend(model, device=device, threads=threads)
    if backend == "torch":
        raise BackendError(f"{path} is not a PyTorch checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}); the torch backend needs one")
    return OnnxRuntimeBackend(onnx_set_paths(path), device=device, threads=threads)
