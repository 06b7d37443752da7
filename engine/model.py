"""The MPM network: one transformer holding 2D and 3D poses in a shared space.

Layout (see docs/contracts.md and the paper):

    2D pose (T, J, 2) --FrameEncoder2D--\\
                                          >-- SpatialBlock --+pos-- TemporalEncoder (visible frames only)
    3D pose (T, J, 3) --FrameEncoder3D--/                                  |
                                                     mask tokens put back at dropped frames
                                      /-----------------+------------------\\
                               Decoder2D            Decoder3D          CentreHead (strided)
                              (T, J, 2)      (T, J, 3) = full-sequence     (J, 3) centre frame
                                                   lifting head

Masking is MAE-style: a masked joint is replaced in input space by a learnable joint
token; a frame with no visible joint (or one chosen by temporal masking) never enters
the temporal encoder, and the decoders see a learnable mask token at its position.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import MPMConfig


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over the channel axis of (..., C) tokens."""

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        return super().forward(x.reshape(-1, shape[-1])).reshape(shape)


def feature_norm(kind: str, dim: int) -> nn.Module:
    """The normalisation ``MPMConfig.norm`` names, over the channel axis of (..., C) tokens."""
    return TokenBatchNorm(dim) if kind == "batch" else nn.LayerNorm(dim)


class FrameEncoder(nn.Module):
    """Per-frame MLP (the paper's Conv1d with kernel 1): J*C -> hidden, norm, LeakyReLU, dropout."""

    def __init__(self, in_dim: int, hidden: int, dropout: float, norm: str = "batch") -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, hidden)
        self.norm = feature_norm(norm, hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(F.leaky_relu(self.norm(self.linear(x)), 0.2))


class SpatialBlock(nn.Module):
    """Shared residual block of two hidden->hidden layers, then hidden -> width."""

    def __init__(self, hidden: int, width: int, dropout: float, norm: str = "batch") -> None:
        super().__init__()
        # bn1/bn2 hold whichever norm the config names; the names stay so old checkpoints load.
        self.fc1, self.bn1 = nn.Linear(hidden, hidden), feature_norm(norm, hidden)
        self.fc2, self.bn2 = nn.Linear(hidden, hidden), feature_norm(norm, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        y = self.drop(F.leaky_relu(self.bn1(self.fc1(x)), 0.2))
        y = self.drop(F.leaky_relu(self.bn2(self.fc2(y)), 0.2))
        return self.out(x + y)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: Tensor, allowed: Tensor | None = None) -> Tensor:
        """``allowed``: optional (B, T) bool, the keys each query may attend to."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        mask = None if allowed is None else allowed[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class TransformerBlock(nn.Module):
    """Pre-LayerNorm transformer block."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, allowed: Tensor | None = None) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x), allowed))
        return x + self.drop(self.ffn(self.norm2(x)))


class StridedBlock(nn.Module):
    """Strided transformer block: attention, then an FFN of Conv1d(k=1) and a strided
    Conv1d(k=stride) that shortens the sequence; the residual path is max-pooled."""

    def __init__(self, dim: int, heads: int, ffn: int, stride: int, length: int, dropout: float) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, length, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.conv1 = nn.Conv1d(dim, ffn, kernel_size=1)
        self.conv2 = nn.Conv1d(ffn, dim, kernel_size=stride, stride=stride)
        self.pool = nn.MaxPool1d(kernel_size=stride, stride=stride)
        self.drop = nn.Dropout(dropout)
        nn.init.trunc_normal_(self.pos, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos
        x = x + self.drop(self.attn(self.norm1(x)))
        y = self.norm2(x).transpose(1, 2)
        y = self.conv2(self.drop(F.gelu(self.conv1(y))))
        return (self.pool(x.transpose(1, 2)) + self.drop(y)).transpose(1, 2)


class Decoder(nn.Module):
    """Stage-I decoder: width -> decoder width, mask tokens at dropped frames, one
    transformer block, the config's norm and a linear layer to J*C per frame."""

    def __init__(self, cfg: MPMConfig, out_dim: int) -> None:
        super().__init__()
        self.embed = nn.Linear(cfg.width, cfg.decoder_width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.decoder_width))
        self.pos = nn.Parameter(torch.zeros(1, cfg.num_frames, cfg.decoder_width))
        self.block = TransformerBlock(cfg.decoder_width, cfg.decoder_heads, cfg.decoder_ffn, cfg.dropout)
        self.norm = feature_norm(cfg.norm, cfg.decoder_width)
        self.out = nn.Linear(cfg.decoder_width, out_dim)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)

    def forward(self, latent: Tensor, frame_visible: Tensor) -> Tensor:
        t = latent.shape[1]
        x = torch.where(frame_visible[..., None], self.embed(latent), self.mask_token)
        x = self.block(x + self.pos[:, :t])
        return self.out(self.norm(x))


class CentreHead(nn.Module):
    """Stage-II strided transformer that reduces a whole window to its centre frame."""

    def __init__(self, cfg: MPMConfig, out_dim: int) -> None:
        super().__init__()
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.width))
        blocks, length = [], cfg.num_frames
        for s in cfg.strides:
            blocks.append(StridedBlock(cfg.width, cfg.heads, cfg.ffn, s, length, cfg.dropout))
            length //= s
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(cfg.width)
        self.out = nn.Linear(cfg.width, out_dim)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def forward(self, latent: Tensor, frame_visible: Tensor) -> Tensor:
        x = torch.where(frame_visible[..., None], latent, self.mask_token)
        for block in self.blocks:
            x = block(x)
        return self.out(self.norm(x[:, 0]))


class MPM(nn.Module):
    """Masked pose model. All public tensors are (B, T, J, C) with a (B, T, J) bool
    ``visible`` mask (True = observed). 2D inputs are image-normalised (docs/contracts.md),
    3D inputs and outputs are root-relative camera-space metres."""

    def __init__(self, cfg: MPMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        j = cfg.num_joints
        self.joint_token_2d = nn.Parameter(torch.zeros(j, 2))
        self.joint_token_3d = nn.Parameter(torch.zeros(j, 3))
        self.encoder_2d = FrameEncoder(2 * j, cfg.encoder_hidden, cfg.dropout, cfg.norm)
        self.encoder_3d = FrameEncoder(3 * j, cfg.encoder_hidden, cfg.dropout, cfg.norm)
        self.spatial = SpatialBlock(cfg.encoder_hidden, cfg.width, cfg.dropout, cfg.norm)
        self.pos = nn.Parameter(torch.zeros(1, cfg.num_frames, cfg.width))
        self.blocks = nn.ModuleList(
            TransformerBlock(cfg.width, cfg.heads, cfg.ffn, cfg.dropout) for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(cfg.width)
        self.decoder_2d = Decoder(cfg, 2 * j)
        self.decoder_3d = Decoder(cfg, 3 * j)
        self.centre_head = CentreHead(cfg, 3 * j)
        nn.init.trunc_normal_(self.pos, std=0.02)

    # -- encoder ---------------------------------------------------------------------
    def input_frame(self, x: Tensor, visible: Tensor, keep_index: Tensor | None = None) -> tuple[Tensor, Tensor] | None:
        """Where a 2D window (B, T, J, 2) sits in the image under ``input_norm = "window"``:
        the mean (B, 1, 1, 2) and RMS spread (B, 1, 1, 1) of the joints the encoder sees
        (visible, and in a kept frame when ``keep_index`` drops frames). None for 3D
        windows and for ``input_norm = "image"``."""
        if self.cfg.input_norm != "window" or x.shape[-1] != 2:
            return None
        seen = visible
        if keep_index is not None:
            kept = torch.zeros(visible.shape[:2], dtype=torch.bool, device=x.device).scatter(1, keep_index, True)
            seen = seen & kept[..., None]
        # The weights come from a select, not a cast of the mask: the fp16 ONNX conversion
        # leaves a float32 Cast in a float16 graph, which ONNX Runtime refuses to load.
        weight = torch.where(seen[..., None], 1.0, 0.0)
        count = weight.sum((1, 2), keepdim=True).clamp_min(1.0)
        x = torch.where(seen[..., None], x, 0.0)  # hidden joints may hold anything, NaN included
        centre = x.sum((1, 2), keepdim=True) / count
        spread = (((x - centre) ** 2).sum(-1, keepdim=True) * weight).sum((1, 2), keepdim=True) / count
        return centre, spread.sqrt().clamp_min(1e-3)

    def encode(self, x: Tensor, visible: Tensor, keep_index: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Encode a (B, T, J, 2|3) pose window into the shared latent space.

        Returns ``latent`` (B, T, width) and ``frame_visible`` (B, T). Frames that are not
        visible never reach the temporal encoder: with ``keep_index`` (B, K), the same
        number of kept frames per sample (training), the others are physically dropped;
        without it, a frame with no visible joint is excluded from attention, which gives
        the same result for the visible frames. The latent at a dropped frame is zero.
        """
        b, t, j, c = x.shape
        if t > self.cfg.num_frames:
            raise ValueError(f"window of {t} frames is longer than the model's {self.cfg.num_frames}")
        frame = self.input_frame(x, visible, keep_index)
        if frame is not None:
            x = (x - frame[0]) / frame[1]
        token = self.joint_token_2d if c == 2 else self.joint_token_3d
        encoder = self.encoder_2d if c == 2 else self.encoder_3d
        x = torch.where(visible[..., None], x, token).reshape(b, t, j * c)
        pos = self.pos[:, :t].expand(b, -1, -1)
        if keep_index is not None:
            gather = keep_index[..., None].expand(-1, -1, x.shape[-1])
            h = self.spatial(encoder(torch.gather(x, 1, gather)))
            h = h + torch.gather(pos, 1, keep_index[..., None].expand(-1, -1, h.shape[-1]))
            for block in self.blocks:
                h = block(h)
            h = self.norm(h)
            latent = h.new_zeros(b, t, h.shape[-1]).scatter(1, keep_index[..., None].expand_as(h), h)
            frame_visible = torch.zeros(b, t, dtype=torch.bool, device=x.device).scatter(1, keep_index, True)
            return latent, frame_visible
        frame_visible = visible.any(-1)
        # A window with no visible frame at all attends everywhere (no NaN); the decoders
        # then see only mask tokens, so the garbage never reaches an output.
        allowed = frame_visible | ~frame_visible.any(1, keepdim=True)
        h = self.spatial(encoder(x)) + pos
        for block in self.blocks:
            h = block(h, allowed)
        latent = torch.where(frame_visible[..., None], self.norm(h), 0.0)
        return latent, frame_visible

    # -- heads -----------------------------------------------------------------------
    def decode_2d(self, latent: Tensor, frame_visible: Tensor, frame: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """Full-sequence 2D output; ``frame``: the input's ``input_frame`` (window
        normalisation), so the output is in image-normalised coordinates like the input."""
        b, t = latent.shape[:2]
        out = self.decoder_2d(latent, frame_visible).reshape(b, t, -1, 2)
        return out if frame is None else out * frame[1] + frame[0]

    def decode_3d(self, latent: Tensor, frame_visible: Tensor) -> Tensor:
        """Full-sequence 3D output (every frame of the window), root-relative."""
        b, t = latent.shape[:2]
        return _root_relative(self.decoder_3d(latent, frame_visible).reshape(b, t, -1, 3), self.cfg.skel.root)

    def decode_centre(self, latent: Tensor, frame_visible: Tensor) -> Tensor:
        """Centre-frame 3D output (B, J, 3), root-relative; needs a full window."""
        if latent.shape[1] != self.cfg.num_frames:
            raise ValueError(f"the centre-frame head needs windows of exactly {self.cfg.num_frames} frames")
        b = latent.shape[0]
        out = self.centre_head(latent, frame_visible).reshape(b, 1, -1, 3)
        return _root_relative(out, self.cfg.skel.root)[:, 0]

    # -- jobs ------------------------------------------------------------------------
    def forward(self, x: Tensor, visible: Tensor, head: str = "full") -> Tensor:
        """Lift 2D (or complete 3D) to 3D. ``head``: ``full`` -> (B, T, J, 3); ``centre`` -> (B, J, 3)."""
        latent, frame_visible = self.encode(x, visible)
        if head == "centre":
            return self.decode_centre(latent, frame_visible)
        return self.decode_3d(latent, frame_visible)


def _root_relative(pose: Tensor, root: int) -> Tensor:
    return pose - pose[..., root : root + 1, :]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
