"""Fixtures for the trainer tests (import them into a test module): synthetic motion in a
prepared cache and a tiny two-stage config."""
from __future__ import annotations

from pathlib import Path

import pytest

from .motion_synthetic import synthetic_clips


@pytest.fixture(scope="session")
def synthetic_cache(tmp_path_factory) -> Path:
    """A prepared npz of synthetic clips: subjects 01-03 for training, 09 for validation."""
    from training.data import save_prepared

    clips = synthetic_clips({"01": 2, "02": 2, "03": 1, "09": 2}, frames=90)
    return save_prepared(tmp_path_factory.mktemp("data") / "synthetic.npz", clips)


def tiny_config_text(cache: Path, out: Path, **stage_overrides: str) -> str:
    """A TOML config training the tiny model for a few steps of each stage."""
    stage1 = stage_overrides.get("stage1", "")
    stage2 = stage_overrides.get("stage2", "")
    return f"""
name = "tiny"
seed = 3
out = "{out.as_posix()}"
device = "cpu"
threads = 1
checkpoint_every = 2

[model]
preset = "tiny"

[[data.train]]
path = "{cache.as_posix()}"
exclude_subjects = ["09"]

[[data.val]]
path = "{cache.as_posix()}"
subjects = ["09"]

[noise]
level = [0.5, 2.0]
occlusion_prob = 0.2

[augment]
bone_scale = 0.05

[stage1]
epochs = 2
batch_size = 8
steps_per_epoch = 3
lr = 1e-3
lr_decay = 0.9
warmup_steps = 2
val_windows = 8
{stage1}

[stage2]
epochs = 2
batch_size = 8
steps_per_epoch = 3
lr = 5e-4
lr_decay = 0.9
val_windows = 8
masking = {{ temporal_ratio = 0.3, limb_prob = 0.3, clean_prob = 0.3 }}
{stage2}
"""


@pytest.fixture
def tiny_config(synthetic_cache, tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_config_text(synthetic_cache, tmp_path / "run"), encoding="utf-8")
    return path
