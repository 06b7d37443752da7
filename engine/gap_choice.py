"""Choosing a fill gap by gap, by trying the candidates on stand-in gaps of the same clip.

Which fill is better depends on the motion, not on a rule that holds everywhere: a
wrist still for half a second is best interpolated, a swinging arm or a walking leg
is best left to the model, and how long a gap may get before the model wins differs
from clip to clip (benchmarks/bench_gap_filling.py). So each gap (one joint's run of
hidden frames with seen frames on both sides) is cut again, in the same shape, into
nearby stretches of the same clip where that joint is seen (a *probe*), every candidate
fills the probes, and the candidate closest to the known truth there fills the gap.

Probes are packed into a few extra passes of the fills over the whole clip (a pass
hides the real gaps and a set of probes that lie apart in time), so the model runs
``1 + passes`` times. A gap for which no probe fits (too long for the clip, or its
joint not seen that long anywhere else) and a gap touching either end of the clip keep the first
candidate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``fill(values (F, J, C) with hidden entries NaN, visible (F, J) bool) -> (F, J, C)``."""


@dataclass(frozen=True)
class Gap:
    """Joint ``joint`` hidden on frames ``start`` to ``stop - 1``, seen just before and after."""

    joint: int
    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


@dataclass
class GapChoice:
    """What :func:`fill_choosing_per_gap` did: each interior gap, the candidate that filled
    it, and the mean probe error of every candidate (NaN where no probe fitted)."""

    gaps: list[Gap]
    chosen: list[str]
    probe_errors: list[dict[str, float]]
    passes: int


def interior_gaps(visible: np.ndarray) -> list[Gap]:
    """Every run of hidden frames of every joint with a seen frame on both sides."""
    gaps = []
    frames = len(visible)
    for joint in range(visible.shape[1]):
        hidden = ~visible[:, joint]
        edges = np.diff(np.concatenate([[0], hidden.astype(np.int8), [0]]))
        for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if start > 0 and stop < frames:
                gaps.append(Gap(joint, int(start), int(stop)))
    return gaps


def probe_starts(visible: np.ndarray, start: int, stop: int, joints: np.ndarray, count: int) -> list[int]:
    """Up to ``count`` first frames of stand-ins for the gaps of ``joints`` on the frames
    ``start`` to ``stop - 1``: stretches as long, nearest the gaps first, clear of them
    and of each other, where those joints are seen throughout and on the frames just
    before and after (so the truth there is known and interpolation has its ends)."""
    frames, length = len(visible), stop - start
    if frames < length + 2:
        return []
    seen = visible[:, joints].all(1)
    # whole[f]: the joints are seen on every frame f .. f + length + 1 (a probe at f + 1 and its bounds)
    counts = np.concatenate([[0], np.cumsum(seen)])
    whole = counts[length + 2 :] - counts[: -(length + 2)] == length + 2
    firsts = np.flatnonzero(whole)
    clear = (firsts + length + 1 < start - 1) | (firsts > stop)  # the probe and its bounds clear of the gap's
    candidates = firsts[clear] + 1
    chosen: list[int] = []
    for first in candidates[np.argsort(np.abs(candidates - start), kind="stable")].tolist():
        if all(abs(first - other) > length + 1 for other in chosen):
            chosen.append(first)
            if len(chosen) == count:
                break
    return chosen


def _pack_probes(
    visible: np.ndarray, stretches: list[tuple[int, int, np.ndarray]], probes_per_gap: int, max_passes: int
) -> list[tuple[np.ndarray, list[tuple[int, int]]]]:
    """Passes of (visible mask with probes hidden too, [(stretch index, probe start)]).

    A probe hides what its stretch's frames hide (the joints of its gaps and any other
    joint hidden there, as it is hidden there), so the fills see the gap's situation.
    Within a pass, probes lie at least a gap's length apart in time, so that each probe
    leaves the model about as much context as its gap has."""
    passes: list[tuple[np.ndarray, list[tuple[int, int]], list[tuple[int, int]]]] = []
    for index, (start, stop, joints) in enumerate(stretches):
        length = stop - start
        shape = ~visible[start:stop]
        for first in probe_starts(visible, start, stop, joints, probes_per_gap):
            span = (first - length, first + 2 * length)  # the probe and a gap's length each side
            for mask, probes, spans in passes:
                if all(span[1] <= a or span[0] >= b for a, b in spans):
                    break
            else:
                if len(passes) == max_passes:
                    continue
                passes.append((visible.copy(), [], []))
                mask, probes, spans = passes[-1]
            mask[first : first + length] &= ~shape
            probes.append((index, first))
            spans.append(span)
    return [(mask, probes) for mask, probes, _ in passes]


def fill_choosing_per_gap(
    values: np.ndarray,
    visible: np.ndarray,
    candidates: Mapping[str, Fill],
    *,
    probes_per_gap: int = 3,
    max_passes: int = 4,
) -> tuple[np.ndarray, GapChoice]:
    """``values`` (F, J, C) with every interior gap filled by the candidate that filled
    stand-ins of that gap best (mean distance to the truth over the probes' hidden frames
    of the gap's joint); gaps without probes and gaps at the clip's ends take the first
    candidate. Seen entries come back unchanged."""
    if not candidates:
        raise ValueError("candidates: expected at least one fill")
    values = np.asarray(values)
    visible = np.asarray(visible, dtype=bool)
    names = list(candidates)
    hidden_values = np.where(visible[..., None], values, np.nan)
    fills = {name: np.asarray(fill(hidden_values, visible)) for name, fill in candidates.items()}
    gaps = interior_gaps(visible)
    # Gaps over the same frames (a lost limb) share their probes: one shape, one stand-in.
    by_span: dict[tuple[int, int], list[int]] = {}
    for i, gap in enumerate(gaps):
        by_span.setdefault((gap.start, gap.stop), []).append(i)
    spans = sorted(by_span)
    members = [by_span[span] for span in spans]
    stretches = [(start, stop, np.array([gaps[i].joint for i in m])) for (start, stop), m in zip(spans, members)]
    sums = np.zeros((len(gaps), len(names)))
    counts = np.zeros(len(gaps))
    passes = _pack_probes(visible, stretches, probes_per_gap, max_passes) if len(names) > 1 else []
    for mask, probes in passes:
        probe_fills = [np.asarray(candidates[name](np.where(mask[..., None], values, np.nan), mask)) for name in names]
        for stretch, first in probes:
            for index in members[stretch]:
                joint, rows = gaps[index].joint, slice(first, first + gaps[index].length)
                for k, filled in enumerate(probe_fills):
                    sums[index, k] += np.linalg.norm(filled[rows, joint] - values[rows, joint], axis=-1).mean()
                counts[index] += 1
    out = fills[names[0]].copy()
    chosen, errors = [], []
    for index, gap in enumerate(gaps):
        mean = sums[index] / counts[index] if counts[index] else np.full(len(names), np.nan)
        best = names[int(np.argmin(mean))] if counts[index] else names[0]
        out[gap.start : gap.stop, gap.joint] = fills[best][gap.start : gap.stop, gap.joint]
        chosen.append(best)
        errors.append(dict(zip(names, mean.tolist())))
    out = np.where(visible[..., None], values, out)
    return out, GapChoice(gaps, chosen, errors, len(passes))
