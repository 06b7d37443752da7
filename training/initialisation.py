"""How a network starts training (kept out of ``engine``: inference never needs it).

Pose heads start at zero. With PyTorch's default initialisation the last linear layer of
each head puts every joint about a metre from the truth (its inputs are BatchNorm- or
LayerNorm-scaled, so the outputs have unit spread), and the first few hundred Adam steps
only shrink that. A zeroed head starts at "every joint on the root" (about 0.45 m
MPJPE), still receives full gradients through its weights, and the measured lifting
error at a given step is lower from the start (training/README.md).
"""
from __future__ import annotations

from torch import nn

from engine.model import MPM

from .baselines import MLPLifter


def output_layers(model: nn.Module) -> list[nn.Linear]:
    """The last linear layer of every pose head of ``model`` (MPM or a baseline lifter)."""
    if isinstance(model, MPM):
        return [model.decoder_2d.out, model.decoder_3d.out, model.centre_head.out]
    if isinstance(model, MLPLifter):
        return [model.out]
    raise TypeError(f"{type(model).__name__} has no known pose head")


def zero_output_layers(model: nn.Module) -> nn.Module:
    """Zero the weights and biases of ``model``'s pose-head output layers, in place."""
    for layer in output_layers(model):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
    return model
