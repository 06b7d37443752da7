"""Resampling, the prepared npz, CMU de-duplication and the prepare command."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine.skeleton import get_skeleton
from tests.conftest import require_shared_data
from training.data import MotionClip, load_prepared, resample, save_prepared
from training.data.bvh import MotionFileError
from training.prepare import deduplicate, main

J = get_skeleton("anim19").num_joints


def _clip(n=10, fps=30.0, name="01_01", fmt="bvh", source=None):
    pos = np.random.default_rng(0).normal(size=(n, J, 3)).astype(np.float32)
    pos[:, 10] = np.nan
    ext = {"bvh": "bvh", "asf/amc": "amc"}[fmt]
    return MotionClip(pos, fps, name[:2], name, source or f"/data/{name}.{ext}", action="walk", meta={"format": fmt})


def test_resample_integer_ratio_picks_frames():
    x = np.arange(13, dtype=np.float64)[:, None]
    np.testing.assert_allclose(resample(x, 120, 30)[:, 0], [0, 4, 8, 12])


def test_resample_interpolates_and_keeps_nan():
    x = np.array([[0.0], [1.0], [np.nan], [3.0]])
    out = resample(x, 30, 60)
    np.testing.assert_allclose(out[:3, 0], [0, 0.5, 1.0])
    assert np.isnan(out[3, 0]) and np.isnan(out[4, 0])
    np.testing.assert_allclose(out[6, 0], 3.0)


def test_prepared_round_trip(tmp_path):
    clips = [_clip(10), _clip(7, name="02_03")]
    path = save_prepared(tmp_path / "d.npz", clips, {"note": "test"})
    back = load_prepared(path)
    assert [c.clip for c in back] == ["01_01", "02_03"] and [c.num_frames for c in back] == [10, 7]
    np.testing.assert_array_equal(back[1].positions, clips[1].positions)
    assert back[0].action == "walk" and back[0].meta["format"] == "bvh" and back[0].fps == 30.0
    with np.load(path) as z:
        assert z["offsets"].tolist() == [0, 10, 17] and z["positions"].dtype == np.float32


def test_load_prepared_refuses_other_files(tmp_path):
    bad = tmp_path / "other.npz"
    np.savez(bad, positions=np.zeros((2, 3)))
    with pytest.raises(MotionFileError, match="not a prepared motion file"):
        load_prepared(bad)


def test_deduplicate_prefers_asf_and_needs_same_duration():
    bvh, amc = _clip(10, name="02_01", fmt="bvh"), _clip(40, fps=120.0, name="02_01", fmt="asf/amc")
    other = _clip(10, name="02_02", fmt="bvh")
    kept, dropped = deduplicate([bvh, amc, other])
    assert kept == [amc, other] and dropped == [(bvh, amc)]
    kept, _ = deduplicate([bvh, amc, other], prefer="bvh")
    assert kept == [bvh, other]
    longer = _clip(80, fps=120.0, name="02_01", fmt="asf/amc")
    assert deduplicate([bvh, longer])[0] == [bvh, longer]


def test_prepare_command_on_real_files(tmp_path, capsys):
    bvh_dir, amc_dir = tmp_path / "bvh", tmp_path / "amc"
    bvh_dir.mkdir()
    amc_dir.mkdir()
    shutil.copy(require_shared_data("cmu_iclone", "002_01.bvh"), bvh_dir)
    shutil.copy(require_shared_data("cmu_iclone", "002_02.bvh"), bvh_dir)
    shutil.copy(require_shared_data("cmu_iclone", "CMU_data.csv"), bvh_dir)
    shutil.copy(require_shared_data("cmu_asfamc", "02", "02.asf"), amc_dir)
    shutil.copy(require_shared_data("cmu_asfamc", "02", "02_01.amc"), amc_dir)
    out = tmp_path / "cache.npz"
    assert main(["--data", str(bvh_dir), str(amc_dir), "--fps", "30", "--out", str(out)]) == 0
    clips = load_prepared(out)
    assert sorted((c.clip, c.meta["format"]) for c in clips) == [("02_01", "asf/amc"), ("02_02", "bvh")]
    assert all(c.fps == 30.0 for c in clips)
    amc = next(c for c in clips if c.clip == "02_01")
    assert amc.action == "walk"  # found through the table in the other folder
    assert "subject 02: 2 clips" in capsys.readouterr().out
