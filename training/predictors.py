"""Whole-sequence inference for evaluation: MPM over sliding windows, and the baselines.

Every predictor maps sequences to root-relative camera-space 3D (F, J, 3):
``lift_many([(points (F, J, 2) normalised, visible (F, J)), ...], centring)`` and, where it
can, ``complete_many([(pose (F, J, 3), visible (F, J)), ...])``. Windows are taken at the
model's frame rate; frames past either end repeat the first / last frame. ``centring`` (one
:class:`~engine.perspective.ViewCentring` or None per sequence: its camera) lets a lifter
trained on centred views lift each window as if the camera were aimed at the person, as the
engine's ``lift`` does.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.api import complete_3d
from engine.backends import TorchBackend
from engine.model import MPM
from engine.perspective import ViewCentring
from engine.runtime import MODES, flip_averaged, run_lift
from engine.skeleton import get_skeleton

from .baselines import MLPLifter, fill_missing


Centring = list[ViewCentring | None] | None
HEADS = ("centre", "full", "both")


def _centred(x: np.ndarray, visible: np.ndarray, view: ViewCentring | None, skeleton: str) -> tuple[np.ndarray, np.ndarray]:
    """Windows (N, T, J, 2) as a camera aimed at the person sees them, and the rotations
    (N, 3, 3) that undo it (identity without ``view``)."""
    if view is None:
        return x, np.broadcast_to(np.eye(3, dtype=np.float32), (len(x), 3, 3))
    rotations = view.rotations(x, visible, get_skeleton(skeleton))
    return view.to_virtual(x, rotations), rotations


def window_index(frames: int, length: int, centres: np.ndarray) -> np.ndarray:
    """(len(centres), length) frame indices of windows centred on ``centres``, edges repeated."""
    half = length // 2
    return np.clip(centres[:, None] + np.arange(-half, half + 1), 0, frames - 1)


class MPMPredictor:
    """MPM on sequences. ``head="centre"``: one window per evaluated frame, the centre-frame
    head (the paper's evaluation); ``head="full"``: overlapping full-sequence windows (hop =
    a third of a window), averaged per frame; ``head="both"``: the mean of the two (about a
    tenth more compute than the centre head). 3D completion always uses the full head.
    ``frame_stride`` > 1 evaluates the centre head on every n-th frame only (the others
    come back NaN), for CPU budgets. ``flip``: every window is also run mirrored (x -> -x,
    left and right joints swapped) and the mirrored output flipped back and averaged with
    the plain one, as the runtime's accurate mode does; twice the compute. Windows of all
    sequences are batched together."""

    def __init__(self, model: MPM, head: str = "centre", batch_size: int = 256, device: str = "cpu", frame_stride: int = 1, flip: bool = False) -> None:
        if head not in HEADS:
            raise ValueError(f"head {head!r}: expected one of {HEADS}")
        self.model = model.eval().to(device)
        self.head = head
        self.batch_size = batch_size
        self.device = device
        self.frame_stride = max(1, frame_stride)
        self.flip = flip
        self.name = f"mpm_{head}" + ("_flip" if flip else "")

    def _run(self, x: np.ndarray, visible: np.ndarray, head: str) -> np.ndarray:
        """The model on windows (N, T, J, 2 or 3) -> (N, J, 3) centre or (N, T, J, 3) full;
        with ``flip`` averaged with the mirrored windows' output, mirrored back."""
        run = lambda xs, vs: self._run_plain(xs, vs, head)  # noqa: E731
        if not self.flip:
            return run(x, visible)
        return flip_averaged(run, x, visible, get_skeleton(self.model.cfg.skeleton).flip_permutation)

    @torch.no_grad()
    def _run_plain(self, x: np.ndarray, visible: np.ndarray, head: str) -> np.ndarray:
        out = []
        for start in range(0, len(x), self.batch_size):
            xb = torch.from_numpy(x[start : start + self.batch_size]).float().to(self.device)
            vb = torch.from_numpy(visible[start : start + self.batch_size]).to(self.device)
            out.append(self.model(xb, vb, head=head).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0,))

    def _centre(self, items: list[tuple[np.ndarray, np.ndarray]], views: list[ViewCentring | None]) -> list[np.ndarray]:
        t = self.model.cfg.num_frames
        xs, vs, rs, where = [], [], [], []
        for i, ((x, vis), view) in enumerate(zip(items, views)):
            centres = np.arange(0, len(x), self.frame_stride)
            idx = window_index(len(x), t, centres)
            windows, rotations = _centred(x[idx], vis[idx], view, self.model.cfg.skeleton)
            xs.append(windows)
            vs.append(vis[idx])
            rs.append(rotations)
            where.append((i, centres))
        pred = ViewCentring.from_virtual(self._run(np.concatenate(xs), np.concatenate(vs), "centre"), np.concatenate(rs))
        outs, k = [], 0
        for (i, centres), (x, _) in zip(where, items):
            full = np.full(x.shape[:2] + (3,), np.nan)
            full[centres] = pred[k : k + len(centres)]
            outs.append(full)
            k += len(centres)
        return outs

    def _full(self, items: list[tuple[np.ndarray, np.ndarray]], views: list[ViewCentring | None]) -> list[np.ndarray]:
        t = self.model.cfg.num_frames
        outs: list[np.ndarray] = [None] * len(items)  # type: ignore[list-item]
        xs, vs, rs, where = [], [], [], []
        for i, ((x, vis), view) in enumerate(zip(items, views)):
            f = len(x)
            if f <= t:  # one window of the sequence's own length
                window, rotation = _centred(x[None], vis[None], view, self.model.cfg.skeleton)
                outs[i] = ViewCentring.from_virtual(self._run(window, vis[None], "full"), rotation)[0]
                continue
            hop = max(1, t // 3)
            starts = np.unique(np.append(np.arange(0, f - t + 1, hop), f - t))
            rows = starts[:, None] + np.arange(t)
            windows, rotations = _centred(x[rows], vis[rows], view, self.model.cfg.skeleton)
            xs.append(windows)
            vs.append(vis[rows])
            rs.append(rotations)
            where.append((i, starts))
        if xs:
            pred = ViewCentring.from_virtual(self._run(np.concatenate(xs), np.concatenate(vs), "full"), np.concatenate(rs))
            k = 0
            for i, starts in where:
                x = items[i][0]
                total = np.zeros(x.shape[:2] + (3,))
                count = np.zeros((len(x), 1, 1))
                for s in starts:
                    total[s : s + t] += pred[k]
                    count[s : s + t] += 1
                    k += 1
                outs[i] = total / count
        return outs

    def lift_many(self, items: list[tuple[np.ndarray, np.ndarray]], centring: Centring = None) -> list[np.ndarray]:
        """Lift (points (F, J, 2) normalised, visible (F, J)) sequences to (F, J, 3); views
        centred when the model was trained on centred views and ``centring`` gives the camera."""
        prepared = [(np.nan_to_num(p).astype(np.float32), v & np.isfinite(p).all(-1)) for p, v in items]
        views = list(centring) if centring is not None and self.model.cfg.view_centring else [None] * len(items)
        if self.head == "centre":
            return self._centre(prepared, views)
        if self.head == "full":
            return self._full(prepared, views)
        return [0.5 * (c + f) for c, f in zip(self._centre(prepared, views), self._full(prepared, views))]

    def complete_many(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Complete (pose (F, J, 3) root-relative, visible (F, J)); observed joints kept."""
        prepared = [(np.nan_to_num(p).astype(np.float32), v & np.isfinite(p).all(-1)) for p, v in items]
        outs = self._full(prepared, [None] * len(items))
        return [np.where(v[..., None], p, o) for (p, v), o in zip(items, outs)]


class MLPPredictor:
    """The single-frame MLP; hidden 2D joints are filled first (interpolation / mirror).
    ``view_centring``: each frame lifted as if the camera were aimed at the person (where
    ``centring`` gives the camera), like the MPM model it is compared with. ``flip``: each
    frame also lifted mirrored, averaged in (the test-time augmentation MPM's accurate
    mode uses, for a like-for-like comparison)."""

    name = "mlp"

    def __init__(self, model: MLPLifter, skeleton: str, device: str = "cpu", view_centring: bool = False, flip: bool = False) -> None:
        self.model = model.eval().to(device)
        self.skeleton = skeleton
        self.device = device
        self.view_centring = view_centring
        self.flip = flip

    @torch.no_grad()
    def _run(self, frames: np.ndarray, visible: np.ndarray) -> np.ndarray:
        return self.model(torch.from_numpy(frames).to(self.device)).cpu().numpy()

    def lift_many(self, items: list[tuple[np.ndarray, np.ndarray]], centring: Centring = None) -> list[np.ndarray]:
        views = list(centring) if centring is not None and self.view_centring else [None] * len(items)
        filled, rotations = [], []
        for (points, visible), view in zip(items, views):
            vis = visible & np.isfinite(points).all(-1)
            points = points if vis.all() else fill_missing(points, vis, self.skeleton)
            frames, r = _centred(points[:, None].astype(np.float32), vis[:, None], view, self.skeleton)  # each frame a window
            filled.append(frames[:, 0])
            rotations.append(r)
        x = np.concatenate(filled).astype(np.float32)
        everywhere = np.ones(x.shape[:2], bool)  # the filled frames are whole
        if self.flip:
            pred = flip_averaged(self._run, x, everywhere, get_skeleton(self.skeleton).flip_permutation)
        else:
            pred = self._run(x, everywhere)
        pred = ViewCentring.from_virtual(pred, np.concatenate(rotations))
        return np.split(pred, np.cumsum([len(f) for f in filled])[:-1])


class RuntimePredictor:
    """MPM through the engine's own runtime on a :class:`~engine.backends.TorchBackend`,
    clip by clip: lifting with :func:`engine.runtime.run_lift` in the product's ``fast`` or
    ``accurate`` mode and 3D completion with :func:`engine.api.complete_3d`, so that the
    evaluation measures exactly what the add-on and ``engine.api`` give (their windows,
    cross-fades and flip), where :class:`MPMPredictor` measures the heads the paper's way."""

    def __init__(self, model: MPM, mode: str = "fast", device: str = "cpu") -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {MODES}")
        self.backend = TorchBackend(model, device=device)
        self.mode = mode
        self.name = f"mpm_{mode}"

    def lift_many(self, items: list[tuple[np.ndarray, np.ndarray]], centring: Centring = None) -> list[np.ndarray]:
        """As :meth:`MPMPredictor.lift_many`."""
        views = list(centring) if centring is not None and self.backend.config.view_centring else [None] * len(items)
        outs = []
        for (points, visible), view in zip(items, views):
            vis = visible & np.isfinite(points).all(-1)
            x = np.where(vis[..., None], points, 0.0).astype(np.float32)
            outs.append(run_lift(self.backend, x, vis, self.mode, view=view))
        return outs

    def complete_many(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """As :meth:`MPMPredictor.complete_many`."""
        return [complete_3d(self.backend, pose, visible & np.isfinite(pose).all(-1)) for pose, visible in items]


class FillPredictor:
    """Non-learned 3D completion (no lifting)."""

    name = "fill"

    def __init__(self, skeleton: str) -> None:
        self.skeleton = skeleton

    def complete_many(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        return [fill_missing(pose, visible, self.skeleton) for pose, visible in items]
