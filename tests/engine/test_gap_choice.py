"""Choosing a fill per gap by trying the candidates on stand-in gaps of the same clip."""
from __future__ import annotations

import numpy as np

from engine.gap_choice import fill_choosing_per_gap, interior_gaps, probe_starts
from engine.gaps import fill_interpolate

FRAMES = 200


def _tracks() -> np.ndarray:
    """(F, 2, 2): joint 0 glides in a straight line, joint 1 circles."""
    t = np.arange(FRAMES, dtype=np.float64)
    glide = np.stack([2.0 * t, 100.0 - t], -1)
    circle = np.stack([50.0 * np.cos(t / 6.0), 50.0 * np.sin(t / 6.0)], -1)
    return np.stack([glide, circle], 1)


def _circle_only(values: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """A 'model' that knows the circle and nothing about the glide."""
    out = np.where(visible[..., None], values, 0.0)
    truth = _tracks()
    out[~visible[:, 1], 1] = truth[~visible[:, 1], 1]
    out[~visible[:, 0], 0] = truth[~visible[:, 0], 0] + 30.0
    return out


def test_interior_gaps_leave_out_runs_at_the_ends():
    visible = np.ones((20, 2), bool)
    visible[:3, 0] = False  # at the start: not interior
    visible[5:8, 0] = False
    visible[10:12, 1] = False
    visible[17:, 1] = False  # at the end
    assert [(g.joint, g.start, g.stop) for g in interior_gaps(visible)] == [(0, 5, 8), (1, 10, 12)]


def test_probes_lie_where_the_gaps_joints_are_seen_nearest_first():
    visible = np.ones((60, 3), bool)
    visible[30:35, :2] = False  # the gap: joints 0 and 1 over five frames
    visible[10:12, 1] = False  # joint 1 lost elsewhere too: no probe may cover 9..12
    visible[:, 2] = False  # a joint never seen does not stop probes
    starts = probe_starts(visible, 30, 35, np.array([0, 1]), count=4)
    assert len(starts) == 4
    distances = [abs(s - 30) for s in starts]
    assert distances == sorted(distances)
    for s in starts:
        assert visible[s - 1 : s + 6, :2].all()  # the probe and its bounding frames are seen
        assert s + 5 < 29 or s > 35  # clear of the gap and its bounds
    assert all(abs(a - b) > 6 for a in starts for b in starts if a != b)  # probes do not overlap


def test_each_gap_gets_the_fill_that_does_best_on_its_probes():
    truth = _tracks()
    visible = np.ones((FRAMES, 2), bool)
    visible[100:120, 0] = False
    visible[60:80, 1] = False
    filled, choice = fill_choosing_per_gap(
        np.where(visible[..., None], truth, np.nan), visible, {"model": _circle_only, "interpolation": fill_interpolate}
    )
    assert dict(zip([g.joint for g in choice.gaps], choice.chosen)) == {0: "interpolation", 1: "model"}
    np.testing.assert_allclose(filled, truth, atol=1e-9)  # each gap filled exactly by its right fill
    for errors in choice.probe_errors:
        assert np.isfinite(list(errors.values())).all()


def test_gaps_without_probes_and_at_the_ends_keep_the_first_candidate():
    truth = _tracks()
    visible = np.ones((FRAMES, 2), bool)
    visible[20:180, 0] = False  # too long for a stand-in anywhere else in the clip
    visible[:15, 1] = False  # at the start
    filled, choice = fill_choosing_per_gap(
        np.where(visible[..., None], truth, np.nan), visible, {"model": _circle_only, "interpolation": fill_interpolate}
    )
    assert choice.chosen == ["model"] and choice.passes == 0
    assert np.isnan(list(choice.probe_errors[0].values())).all()
    np.testing.assert_allclose(filled, _circle_only(truth, visible))
    assert np.array_equal(filled[visible], truth[visible])
