"""Training configuration: one small TOML file per experiment (training/configs/).

Layout (every key optional except the data sources)::

    base = "cpu_shipped.toml"       # optional: start from another config (path relative to
                                    # this file); tables merge key by key, arrays of tables
                                    # ([[data.train]], [[cameras]]) are replaced whole
    name = "shipped"
    seed = 0
    out = "runs/shipped"            # relative paths are relative to the working directory
    device = "auto"                 # auto | cpu | cuda
    amp = "bf16"                    # bf16 | fp16 | none (autocast on CUDA only)
    threads = 0                     # torch CPU threads (0 = torch's default)
    data_workers = 0                # processes preparing batches ahead (0 = in the training loop)
    checkpoint_every = 200          # steps between mid-epoch checkpoints

    [model]                         # engine preset plus any MPMConfig field
    preset = "small"

    [[data.train]]                  # several sources are mixed in every batch by weight
    path = "build/data/cmu.npz"
    kind = "motion"                 # motion | h36m | 3dhp | keypoints2d
    weight = 1.0
    exclude_subjects = ["5"]
    stages = ["stage1", "stage2"]   # the stages that use this source
    [[data.val]]
    path = "build/data/cmu.npz"
    subjects = ["5"]

    [[cameras]]  ...training.data.cameras.CameraProtocol fields; several tables = a
                 protocol drawn per window (e.g. square, landscape and portrait images)
    [augment]    flip_prob, bone_scale, speed = [low, high] (windows played faster or slower)
    [noise]      enabled = true and any scalar of training.data.cameras.DetectorNoise
                 (level, occlusion_prob, default_dropout ...): the 2D input's corruption

    [stage1]                        # pre-training (masked modelling)
    epochs = 20
    batch_size = 64
    lr = 1e-3
    lr_decay = 0.97                 # per epoch
    warmup_steps = 200
    steps_per_epoch = 0             # 0 = one pass over the windows
    weights = { mask_2d = 5, mask_3d = 2, lift = 1 }
    masking = { mode = "spatiotemporal", spatial_joints = 5, temporal_ratio = 0.6 }
    dropout = 0.1                   # optional: this stage's dropout instead of [model]'s
    [stage2]                        # fine-tuning from the stage-I weights, same keys, and
    centre_detached = false         # true: the centre head's loss does not reach the trunk
    frozen_norm = false             # true: BatchNorm normalises with its running statistics
    [baseline]                      # the single-frame MLP (python -m training.train_baseline)
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.config import MPMConfig

from .data.cameras import CameraProtocol, DetectorNoise
from .losses import LossWeights
from .masking import MaskingConfig
from .pairs import AugmentConfig

DATA_KINDS = ("motion", "h36m", "3dhp", "keypoints2d")


@dataclass(frozen=True)
class DataSpec:
    path: str
    kind: str = "motion"
    weight: float = 1.0
    mapping: str | None = None
    subjects: tuple[str, ...] = ()
    exclude_subjects: tuple[str, ...] = ()
    stride: int = 1
    stages: tuple[str, ...] = ("stage1", "stage2")  # the stages that train on this source
    # Layout-specific choices (h36m: "keypoints" = a 2D file or "gt"; "split" = train | test).
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"data source {self.path}: kind {self.kind!r}, expected one of {DATA_KINDS}")
        object.__setattr__(self, "subjects", tuple(str(s) for s in self.subjects))
        object.__setattr__(self, "exclude_subjects", tuple(str(s) for s in self.exclude_subjects))
        bad = set(self.stages) - {"stage1", "stage2"}
        if bad or not self.stages:
            raise ValueError(f"data source {self.path}: stages {list(self.stages)}, expected some of stage1, stage2")
        overlap = set(self.subjects) & set(self.exclude_subjects)
        if overlap:
            raise ValueError(f"data source {self.path}: subjects {sorted(overlap)} are both included and excluded")


@dataclass(frozen=True)
class StageConfig:
    epochs: int
    batch_size: int
    lr: float
    lr_decay: float
    weights: LossWeights
    masking: MaskingConfig
    warmup_steps: int = 0
    steps_per_epoch: int = 0
    val_windows: int = 512
    amsgrad: bool = True
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    dropout: float | None = None  # None: the [model] dropout; the stage's checkpoints record it
    # Stage II: the centre head trains on the trunk's latent with its gradient stopped
    # (training.losses.FinetuneObjective), so only the other terms shape the trunk.
    centre_detached: bool = False
    # BatchNorm layers kept in eval mode while training: they normalise with (and keep) the
    # running statistics they will use at run time instead of each batch's own.
    frozen_norm: bool = False


@dataclass(frozen=True)
class BaselineConfig:
    """The single-frame MLP baseline (``python -m training.train_baseline``): same data,
    cameras and noise as the MPM config; ``minutes`` caps its wall-clock time (0 = none)."""

    epochs: int = 40
    batch_size: int = 1024  # frames
    # Frames sharing one virtual camera: few, since neighbouring frames are nearly the same
    # sample (3 learns much faster than 27 per step, training/README.md).
    frames_per_window: int = 3
    steps_per_epoch: int = 0
    lr: float = 1e-3
    lr_decay: float = 0.96
    width: int = 1024
    blocks: int = 2
    dropout: float = 0.5
    input_norm: str = "frame"  # "frame": each frame centred and scaled (training/baselines.py)
    minutes: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    model: MPMConfig
    train: tuple[DataSpec, ...]
    val: tuple[DataSpec, ...]
    stage1: StageConfig | None
    stage2: StageConfig | None
    name: str = "run"
    seed: int = 0
    out: str = "runs/run"
    device: str = "auto"
    amp: str = "bf16"
    threads: int = 0
    data_workers: int = 0
    checkpoint_every: int = 200
    cameras: tuple[CameraProtocol, ...] = (CameraProtocol(),)
    augment: AugmentConfig = AugmentConfig()
    baseline: BaselineConfig = BaselineConfig()
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    def stage(self, name: str) -> StageConfig:
        stage = self.stage1 if name == "stage1" else self.stage2
        if stage is None:
            raise ValueError(f"the config has no [{name}] section")
        return stage


def _build(cls, values: dict[str, Any], where: str):
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"[{where}]: unknown keys {sorted(unknown)}; expected some of {sorted(known)}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**converted)


def _stage(values: dict[str, Any] | None, name: str) -> StageConfig | None:
    if values is None:
        return None
    values = dict(values)
    default = LossWeights.pretrain_default() if name == "stage1" else LossWeights.finetune_default()
    weights = values.pop("weights", None)
    values["weights"] = default if weights is None else _build(LossWeights, weights, f"{name}.weights")
    values["masking"] = _build(MaskingConfig, values.pop("masking", {}), f"{name}.masking")
    for key in ("epochs", "batch_size", "lr", "lr_decay"):
        if key not in values:
            raise ValueError(f"[{name}] needs '{key}'")
    if name == "stage1" and values.get("centre_detached"):
        raise ValueError("[stage1] centre_detached: stage I never trains the centre head")
    return _build(StageConfig, values, name)


NOISE_SCALARS = ("default_jitter", "default_drift", "default_confidence", "default_dropout", "confidence_std", "level", "occlusion_prob", "threshold")


def _noise(values: dict[str, Any]) -> DetectorNoise | None:
    """``[noise]``: the calibrated detector noise unless ``enabled = false``; scalars may be overridden."""
    values = dict(values)
    if not values.pop("enabled", True):
        return None
    unknown = set(values) - set(NOISE_SCALARS)
    if unknown:
        raise ValueError(f"[noise]: unknown keys {sorted(unknown)}; expected enabled or some of {list(NOISE_SCALARS)}")
    return DetectorNoise(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def parse_config(raw: dict[str, Any]) -> TrainConfig:
    raw = dict(raw)
    model_values = dict(raw.pop("model", {}))
    preset = model_values.pop("preset", "small")
    model = MPMConfig.preset(preset, **model_values)
    data = raw.pop("data", {})
    if not data.get("train"):
        raise ValueError("the config needs at least one [[data.train]] source")
    unknown = set(data) - {"train", "val"}
    if unknown:
        raise ValueError(f"[data]: unknown keys {sorted(unknown)}; expected train and val lists")
    train = tuple(_build(DataSpec, d, "data.train") for d in data["train"])
    val = tuple(_build(DataSpec, d, "data.val") for d in data.get("val", []))
    noise = _noise(raw.pop("noise", {}))
    augment = _build(AugmentConfig, {**raw.pop("augment", {}), "noise": noise}, "augment")
    camera_tables = raw.pop("cameras", [{}])
    camera_tables = [camera_tables] if isinstance(camera_tables, dict) else camera_tables
    cameras = tuple(_build(CameraProtocol, c, "cameras") for c in camera_tables)
    baseline = _build(BaselineConfig, raw.pop("baseline", {}), "baseline")
    stage1, stage2 = _stage(raw.pop("stage1", None), "stage1"), _stage(raw.pop("stage2", None), "stage2")
    if stage1 is None and stage2 is None:
        raise ValueError("the config needs a [stage1] and/or a [stage2] section")
    cfg = _build(TrainConfig, {**raw, "model": model, "train": train, "val": val, "stage1": stage1, "stage2": stage2, "augment": augment, "cameras": cameras, "baseline": baseline}, "top level")
    if cfg.amp not in ("bf16", "fp16", "none"):
        raise ValueError(f"amp = {cfg.amp!r}: expected bf16, fp16 or none")
    return cfg


def read_config_tables(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The TOML tables of a config file with its ``base`` chain merged in (module docstring)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"training config {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"training config {path} is not valid TOML: {exc}") from None
    base = raw.pop("base", None)
    if base is None:
        return raw
    base_path = (path.parent / base).resolve()
    if base_path in _seen or base_path == path.resolve():
        raise ValueError(f"training config {path}: its base chain loops back to {base_path}")
    return _merge(read_config_tables(base_path, _seen + (path.resolve(),)), raw)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """Read a TOML training config; ``overrides`` replace top-level keys (e.g. ``out``)."""
    raw = read_config_tables(path)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = parse_config(raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"training config {path}: {exc}") from None
    return cfg.__class__(**{**{f.name: getattr(cfg, f.name) for f in fields(cfg)}, "source": raw})
