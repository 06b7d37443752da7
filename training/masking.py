"""MAE-style masks for MPM training (paper: r_s = 5 of 16 joints per frame, r_t = 60 % of frames).

Spatial masks are (B, T, J) bool ``visible`` arrays (True = the model sees the joint);
temporal masks are ``keep_index`` (B, K) arrays of the frames that enter the encoder
(``MPM.encode`` physically drops the others). Everything draws from an explicit
``torch.Generator`` so a run is reproducible and resumable.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from engine.skeleton import Skeleton

PAPER_JOINTS = 16  # the paper's r_s counts masked joints out of a 16-joint skeleton
LIMB_GROUPS = ("right_leg", "left_leg", "right_arm", "left_arm")


@dataclass(frozen=True)
class MaskingConfig:
    """How inputs are hidden. ``mode``: ``spatial``, ``temporal`` or ``spatiotemporal``.

    ``spatial_joints`` is r_s out of the paper's 16 joints; it is scaled to the model's
    joint count. ``limb_prob`` is the share of samples whose spatial mask is one or two
    whole limbs over the whole window instead of random joints per frame (occlusion and
    missing-limb completion, the product's cases); ``clean_prob`` the share of samples
    left unmasked (stage II still has to lift clean input best).
    """

    mode: str = "spatiotemporal"
    spatial_joints: float = 5.0
    temporal_ratio: float = 0.6
    limb_prob: float = 0.0
    clean_prob: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("spatial", "temporal", "spatiotemporal", "none"):
            raise ValueError(f"masking mode {self.mode!r}: expected spatial, temporal, spatiotemporal or none")
        if not 0.0 <= self.temporal_ratio < 1.0:
            raise ValueError(f"temporal_ratio must be in [0, 1), got {self.temporal_ratio}")
        for name in ("limb_prob", "clean_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @property
    def spatial(self) -> bool:
        return self.mode in ("spatial", "spatiotemporal")

    @property
    def temporal(self) -> bool:
        return self.mode in ("temporal", "spatiotemporal")

    def joints_to_mask(self, num_joints: int) -> int:
        """r_s scaled from the paper's 16 joints to ``num_joints`` (5 of 16 -> 6 of 19)."""
        return int(round(self.spatial_joints * num_joints / PAPER_JOINTS))


def random_joint_mask(batch: int, frames: int, joints: int, num_masked: int, generator: torch.Generator) -> Tensor:
    """(B, T, J) visible mask with exactly ``num_masked`` joints hidden in every frame."""
    scores = torch.rand(batch, frames, joints, generator=generator)
    hidden = scores.argsort(-1)[..., :num_masked]
    return torch.ones(batch, frames, joints, dtype=torch.bool).scatter(-1, hidden, False)


def limb_mask(batch: int, frames: int, skeleton: Skeleton, generator: torch.Generator) -> Tensor:
    """(B, T, J) visible mask hiding one or two whole limbs for the whole window."""
    visible = torch.ones(batch, frames, skeleton.num_joints, dtype=torch.bool)
    groups = [skeleton.limb_indices(g) for g in LIMB_GROUPS]
    count = torch.randint(1, 3, (batch,), generator=generator)
    order = torch.rand(batch, len(groups), generator=generator).argsort(-1)
    for b in range(batch):
        for g in order[b, : int(count[b])].tolist():
            visible[b, :, groups[g]] = False
    return visible


def temporal_keep_index(batch: int, frames: int, ratio: float, generator: torch.Generator) -> Tensor:
    """(B, K) sorted indices of the frames kept, K = round(T * (1 - ratio)), at least 1."""
    keep = max(1, int(round(frames * (1.0 - ratio))))
    scores = torch.rand(batch, frames, generator=generator)
    return scores.argsort(-1)[:, :keep].sort(-1).values


def sample_masks(
    cfg: MaskingConfig,
    batch: int,
    frames: int,
    skeleton: Skeleton,
    generator: torch.Generator,
    drop_frames: bool = True,
) -> tuple[Tensor, Tensor | None]:
    """Draw one batch of masks: ``(visible (B, T, J), keep_index (B, K) or None)``.

    With ``drop_frames`` (stage I, the paper's MAE-style pre-training) temporal masking
    is a ``keep_index``: every sample keeps the same K frames' worth of tokens and the
    rest are physically dropped. Without it (stage II) a temporally masked frame is a
    frame with every joint hidden, which ``MPM.encode`` excludes from attention; that
    lets ``clean_prob`` leave some samples wholly unmasked in the same batch.
    """
    if drop_frames and cfg.temporal and cfg.clean_prob > 0:
        raise ValueError("masking clean_prob needs drop_frames=False: a keep_index drops frames from every sample")
    joints = skeleton.num_joints
    visible = torch.ones(batch, frames, joints, dtype=torch.bool)
    if cfg.spatial:
        visible = random_joint_mask(batch, frames, joints, cfg.joints_to_mask(joints), generator)
    if cfg.limb_prob > 0:
        use_limb = torch.rand(batch, generator=generator) < cfg.limb_prob
        if bool(use_limb.any()):
            visible = torch.where(use_limb[:, None, None], limb_mask(batch, frames, skeleton, generator), visible)
    keep_index = None
    if cfg.temporal and cfg.temporal_ratio > 0:
        keep_index = temporal_keep_index(batch, frames, cfg.temporal_ratio, generator)
        if not drop_frames:
            kept = torch.zeros(batch, frames, dtype=torch.bool).scatter(1, keep_index, True)
            visible = visible & kept[..., None]
            keep_index = None
    if cfg.clean_prob > 0:
        clean = torch.rand(batch, generator=generator) < cfg.clean_prob
        visible = visible | clean[:, None, None]
    return visible, keep_index
