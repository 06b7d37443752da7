"""Model configuration: sizes, skeleton, window length and native frame rate.

Torch-free, so the ONNX Runtime path (inside Blender) reads the same config.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from .skeleton import Skeleton, get_skeleton

INPUT_NORMS = ("image", "window")
FEATURE_NORMS = ("batch", "layer")
# Fields that change how the engine runs a network, not its weights: a released checkpoint
# may set them (training.release_model --set).
INFERENCE_FIELDS = ("view_centring",)
_PRESET_FILE = Path(__file__).with_name("data") / "model_presets.toml"


@dataclass(frozen=True)
class MPMConfig:
    """Everything needed to build an MPM network; stored inside every checkpoint."""

    skeleton: str = "anim19"
    num_frames: int = 81
    strides: tuple[int, ...] = (3, 3, 3, 3)
    fps: float = 30.0
    encoder_hidden: int = 512
    width: int = 256
    depth: int = 4
    heads: int = 8
    ffn: int = 512
    decoder_width: int = 128
    decoder_ffn: int = 256
    decoder_heads: int = 8
    dropout: float = 0.1
    # How 2D windows enter the network: "image" (the paper's: image-normalised coordinates
    # as they are) or "window" (each window centred on its observed joints and divided by
    # their spread, so the network sees the same pose at any image size and position).
    input_norm: str = "image"
    # The normalisation inside the frame encoders, the spatial block and the decoders:
    # "batch" (the paper's BatchNorm) or "layer" (LayerNorm, as in the transformer blocks).
    # LayerNorm fits better and lifts better in stage II from scratch; after stage I the two
    # lift alike and LayerNorm completes missing limbs better (training/README.md).
    norm: str = "batch"
    # Whether the network was trained on views aimed at the person (the virtual cameras of
    # training.data.cameras are): lifting then re-projects each window into a camera aimed
    # at the person and turns the 3D back (engine.perspective). False for data seen by real
    # cameras with the person anywhere in the image (the paper's Human3.6M recipe).
    view_centring: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        if not isinstance(self.view_centring, bool):
            raise ValueError(f"view_centring: expected true or false, got {self.view_centring!r}")
        get_skeleton(self.skeleton)  # raises on an unknown skeleton
        if math.prod(self.strides) != self.num_frames:
            raise ValueError(
                f"num_frames={self.num_frames} must equal the product of strides {self.strides} "
                "(the centre-frame head reduces the window to one frame)"
            )
        if self.input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm {self.input_norm!r}: expected one of {', '.join(INPUT_NORMS)}")
        if self.norm not in FEATURE_NORMS:
            raise ValueError(f"norm {self.norm!r}: expected one of {', '.join(FEATURE_NORMS)}")
        if self.num_frames % 2 != 1:
            raise ValueError(f"num_frames must be odd so the window has a centre frame, got {self.num_frames}")
        for name, heads in (("width", self.heads), ("decoder_width", self.decoder_heads)):
            if getattr(self, name) % heads:
                raise ValueError(f"{name}={getattr(self, name)} is not divisible by its {heads} heads")

    @property
    def skel(self) -> Skeleton:
        return get_skeleton(self.skeleton)

    @property
    def num_joints(self) -> int:
        return self.skel.num_joints

    @property
    def centre(self) -> int:
        return self.num_frames // 2

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["strides"] = list(self.strides)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MPMConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}; expected some of {sorted(known)}")
        return cls(**d)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "MPMConfig":
        """A named size from ``data/model_presets.toml`` (``paper``, ``paper81``, ``small``, ``tiny`` ...)."""
        presets = _presets()
        if name not in presets:
            raise KeyError(f"unknown model preset {name!r}; known: {', '.join(sorted(presets))}")
        return cls.from_dict({**presets[name], **overrides})


@lru_cache(maxsize=None)
def _presets() -> dict[str, dict[str, Any]]:
    with open(_PRESET_FILE, "rb") as f:
        return tomllib.load(f)


def preset_names() -> list[str]:
    return sorted(_presets())
