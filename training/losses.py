"""Losses of MPM's two stages, as modules so DistributedDataParallel can wrap them.

Stage I (pre-training): masked 2D modelling, masked 3D modelling and masked 2D->3D
lifting, weighted 5 / 2 / 1 in the paper. Stage II (fine-tuning): centre-frame and
full-sequence lifting MPJPE (the authors' code weights them 1:1), plus the masked-3D and
masked-2D terms so the same checkpoint keeps completing poses and filling 2D gaps.
Every loss is MPJPE (mean L2 per joint) over the joints that have a target.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from engine.model import MPM


@dataclass(frozen=True)
class LossWeights:
    """Weight of each term; a zero weight skips the term (and its compute)."""

    mask_2d: float = 0.0
    mask_3d: float = 0.0
    lift: float = 0.0
    centre: float = 0.0
    full: float = 0.0

    @classmethod
    def pretrain_default(cls) -> "LossWeights":
        return cls(mask_2d=5.0, mask_3d=2.0, lift=1.0)

    @classmethod
    def finetune_default(cls) -> "LossWeights":
        return cls(centre=1.0, full=1.0, mask_3d=0.5, mask_2d=0.5)


def mpjpe(pred: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    """Mean Euclidean distance per joint, over ``valid`` (..., J) joints when given."""
    err = (pred.float() - target.float()).norm(dim=-1)
    if valid is None:
        return err.mean()
    valid = valid.to(err.dtype)
    # An all-invalid batch gives 0 with a graph attached, never NaN.
    return (err * valid).sum() / valid.sum().clamp_min(1.0)


def _inputs(pose: Tensor, valid: Tensor, visible: Tensor) -> tuple[Tensor, Tensor]:
    """Model input: NaN-free pose and the joints the model may see (present and unmasked)."""
    return torch.nan_to_num(pose), valid & visible


def _targets_3d(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """NaN-free 3D targets and where they count: valid joints of samples that have 3D."""
    return torch.nan_to_num(batch["pose_3d"]), batch["valid_3d"] & batch["has_3d"][:, None, None]


class _Objective(nn.Module):
    """A training objective: the model and the weights of its loss terms."""

    def __init__(self, model: MPM, weights: LossWeights) -> None:
        super().__init__()
        self.model = model
        self.weights = weights

    def _mask_2d(self, latent: Tensor, frames: Tensor, x: Tensor, vis: Tensor, batch: dict[str, Tensor],
                 keep_index: Tensor | None = None) -> Tensor:
        """Masked 2D modelling: the decoded 2D (in the input's coordinates) against the clean 2D."""
        m = self.model
        decoded = m.decode_2d(latent, frames, m.input_frame(x, vis, keep_index))
        return mpjpe(decoded, torch.nan_to_num(batch["target_2d"]), batch["target_valid_2d"])


class PretrainObjective(_Objective):
    """Stage I: one 2D pass (masked 2D modelling + lifting) and one 3D pass (masked 3D)."""

    def forward(self, batch: dict[str, Tensor], masks: dict[str, Tensor | None]) -> tuple[Tensor, dict[str, Tensor]]:
        w, m = self.weights, self.model
        parts: dict[str, Tensor] = {}
        target_3d, valid_3d = _targets_3d(batch)
        if w.mask_2d or w.lift:
            x, vis = _inputs(batch["pose_2d"], batch["valid_2d"], masks["visible_2d"])
            latent, frames = m.encode(x, vis, masks["keep_2d"])
            if w.mask_2d:
                parts["mask_2d"] = self._mask_2d(latent, frames, x, vis, batch, masks["keep_2d"])
            if w.lift:
                parts["lift"] = mpjpe(m.decode_3d(latent, frames), target_3d, valid_3d)
        if w.mask_3d:
            x, vis = _inputs(batch["pose_3d"], valid_3d, masks["visible_3d"])
            latent, frames = m.encode(x, vis, masks["keep_3d"])
            parts["mask_3d"] = mpjpe(m.decode_3d(latent, frames), target_3d, valid_3d)
        return _weighted(parts, w), parts


class FinetuneObjective(_Objective):
    """Stage II: centre-frame + full-sequence lifting from (sometimes masked) 2D, plus
    masked 3D modelling and masked 2D modelling. Temporal masks are hidden frames in
    ``visible`` here (no keep_index), so a batch can mix clean and masked samples.

    ``centre_detached``: the centre head learns from the trunk's latent with the gradient
    stopped there, so its loss trains the head alone and leaves the shared trunk to the
    other terms (training/README.md measures what the centre loss otherwise costs the
    full-sequence head)."""

    def __init__(self, model: MPM, weights: LossWeights, centre_detached: bool = False) -> None:
        super().__init__(model, weights)
        self.centre_detached = centre_detached

    def forward(self, batch: dict[str, Tensor], masks: dict[str, Tensor | None]) -> tuple[Tensor, dict[str, Tensor]]:
        w, m = self.weights, self.model
        parts: dict[str, Tensor] = {}
        target_3d, valid_3d = _targets_3d(batch)
        if w.centre or w.full or w.mask_2d:
            x, vis = _inputs(batch["pose_2d"], batch["valid_2d"], masks["visible_2d"])
            latent, frames = m.encode(x, vis)
            if w.centre:
                c = m.cfg.centre
                centre_input = latent.detach() if self.centre_detached else latent
                parts["centre"] = mpjpe(m.decode_centre(centre_input, frames), target_3d[:, c], valid_3d[:, c])
            if w.full:
                parts["full"] = mpjpe(m.decode_3d(latent, frames), target_3d, valid_3d)
            if w.mask_2d:
                parts["mask_2d"] = self._mask_2d(latent, frames, x, vis, batch)
        if w.mask_3d:
            x, vis = _inputs(batch["pose_3d"], valid_3d, masks["visible_3d"])
            latent, frames = m.encode(x, vis)
            parts["mask_3d"] = mpjpe(m.decode_3d(latent, frames), target_3d, valid_3d)
        return _weighted(parts, w), parts


def _weighted(parts: dict[str, Tensor], weights: LossWeights) -> Tensor:
    if not parts:
        raise ValueError(f"every loss weight is zero ({weights}); nothing to train")
    return sum(getattr(weights, name) * value for name, value in parts.items())
