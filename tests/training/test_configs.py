"""Every shipped training config parses, and the paper's settings are what the paper says."""
from pathlib import Path

import pytest

from training.run_config import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS_DIR = REPO / "training" / "configs"
CONFIGS = sorted(CONFIGS_DIR.glob("*.toml"))


def test_the_expected_configs_exist():
    assert {p.stem for p in CONFIGS} >= {"paper_h36m_243", "paper_h36m_81", "paper_3dhp_mix", "cpu_shipped"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_parses(path):
    cfg = load_config(path)
    assert cfg.stage1 is not None and cfg.stage2 is not None
    assert cfg.stage1.weights.mask_2d == 5.0 and cfg.stage1.weights.mask_3d == 2.0 and cfg.stage1.weights.lift == 1.0
    assert cfg.stage1.masking.mode == "spatiotemporal" and cfg.stage1.masking.temporal_ratio == 0.6
    assert cfg.stage1.masking.joints_to_mask(cfg.model.num_joints) == round(5 * cfg.model.num_joints / 16)


def test_paper_sizes_and_shipped_split():
    assert load_config(CONFIGS_DIR / "paper_h36m_243.toml").model.num_frames == 243
    assert load_config(CONFIGS_DIR / "paper_h36m_81.toml").model.num_frames == 81
    assert load_config(CONFIGS_DIR / "paper_3dhp_mix.toml").model.depth == 3
    shipped = load_config(CONFIGS_DIR / "cpu_shipped.toml")
    assert shipped.model.skeleton == "anim19" and shipped.model.num_frames == 27
    assert shipped.train[0].exclude_subjects == shipped.val[0].subjects == ("02",)
    assert shipped.stage2.weights.mask_3d > 0 and shipped.stage2.masking.clean_prob > 0  # one checkpoint, four jobs


def test_bad_configs_are_refused_with_the_key_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\npreset = "tiny"\n[[data.train]]\npath = "x"\n[stage1]\nepochs = 1\nbatch_size = 2\nlr = 1e-3\nlr_decay = 1\nwieghts = {}\n')
    with pytest.raises(ValueError, match="wieghts"):
        load_config(bad)
    bad.write_text('[model]\npreset = "tiny"\n[[data.train]]\npath = "x"\nkind = "bvh"\n[stage1]\nepochs = 1\nbatch_size = 2\nlr = 1e-3\nlr_decay = 1\n')
    with pytest.raises(ValueError, match="kind 'bvh'"):
        load_config(bad)
    bad.write_text('[model]\npreset = "tiny"\n[[data.train]]\npath = "x"\n[stage1]\nepochs = 1\nbatch_size = 2\nlr = 1e-3\nlr_decay = 1\ncentre_detached = true\n')
    with pytest.raises(ValueError, match="centre_detached"):
        load_config(bad)


def test_a_config_extends_its_base_table_by_table(tmp_path):
    (tmp_path / "base.toml").write_text(
        'name = "base"\n[model]\npreset = "tiny"\ndepth = 2\n[[data.train]]\npath = "a.npz"\n[[cameras]]\nfov_deg = [40.0, 50.0]\n'
        '[stage1]\nepochs = 3\nbatch_size = 8\nlr = 1e-3\nlr_decay = 0.9\nweights = { mask_2d = 5.0, mask_3d = 2.0, lift = 1.0 }\n'
    )
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.toml"
    child.write_text('base = "../base.toml"\nname = "child"\n[model]\nwidth = 32\nheads = 2\n[[data.train]]\npath = "b.npz"\n[stage1]\nepochs = 7\n')
    cfg = load_config(child)
    assert cfg.name == "child" and cfg.model.width == 32 and cfg.model.depth == 2  # [model] merged key by key
    assert cfg.stage1.epochs == 7 and cfg.stage1.batch_size == 8 and cfg.stage1.lr_decay == 0.9
    assert [s.path for s in cfg.train] == ["b.npz"] and cfg.cameras[0].fov_deg == (40.0, 50.0)  # arrays replaced whole
    assert "base" not in cfg.source and cfg.source["stage1"]["epochs"] == 7  # what a checkpoint records: the merged tables
    (tmp_path / "base.toml").write_text('base = "sub/child.toml"\n')
    with pytest.raises(ValueError, match="loops"):
        load_config(child)


@pytest.mark.parametrize("name", [
    "cpu_continue_base", "cpu_continue_centred", "cpu_continue_frozen_norm", "cpu_continue_lifting", "cpu_continue_long",
])
def test_continuation_configs_build_the_shipped_network(name):
    """They start from assets/models/mpm_base.pt (--init): its weights must load strictly,
    whatever cpu_shipped.toml, which they extend, has since changed (e.g. its norm)."""
    from engine.checkpoint import read_checkpoint, strip_module_prefix
    from engine.model import MPM

    ckpt = read_checkpoint(REPO / "assets" / "models" / "mpm_base.pt")
    model = MPM(load_config(CONFIGS_DIR / f"{name}.toml").model)
    model.load_state_dict(strip_module_prefix(ckpt["model"]), strict=True)  # as Trainer.load_weights does
