import pytest
import torch

from engine.skeleton import get_skeleton
from training.masking import MaskingConfig, limb_mask, random_joint_mask, sample_masks, temporal_keep_index

SKEL = get_skeleton("anim19")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_paper_ratio_scales_with_joint_count():
    cfg = MaskingConfig()
    assert cfg.joints_to_mask(16) == 5
    assert cfg.joints_to_mask(19) == 6  # 5/16 of 19 = 5.94
    assert cfg.joints_to_mask(17) == 5


def test_random_joint_mask_hides_exactly_r_s_per_frame_and_varies():
    vis = random_joint_mask(4, 10, 19, 6, gen())
    assert vis.shape == (4, 10, 19)
    assert torch.all((~vis).sum(-1) == 6)
    # each frame draws its own joints
    assert not torch.equal(vis[0, 0], vis[0, 1]) or not torch.equal(vis[0, 1], vis[0, 2])


def test_temporal_keep_index_sorted_unique_and_sized():
    keep = temporal_keep_index(5, 81, 0.6, gen())
    assert keep.shape == (5, 32)  # round(81 * 0.4)
    assert torch.all(keep[:, 1:] > keep[:, :-1])
    assert keep.min() >= 0 and keep.max() < 81


def test_limb_mask_hides_whole_limbs_for_the_whole_window():
    vis = limb_mask(16, 7, SKEL, gen())
    hidden = ~vis
    assert torch.all(hidden.any(1) == hidden.all(1))  # the same joints in every frame
    groups = [set(SKEL.limb_indices(n)) for n in ("right_leg", "left_leg", "right_arm", "left_arm")]
    for row in hidden[:, 0]:
        joints = set(torch.nonzero(row).flatten().tolist())
        covered = [g for g in groups if g <= joints]
        assert 1 <= len(covered) <= 2 and set().union(*covered) == joints


def test_stage1_masks_drop_frames_and_stage2_hides_them():
    cfg = MaskingConfig(mode="spatiotemporal", temporal_ratio=0.5)
    vis, keep = sample_masks(cfg, 3, 27, SKEL, gen(), drop_frames=True)
    assert keep is not None and keep.shape == (3, 14)
    vis2, keep2 = sample_masks(cfg, 3, 27, SKEL, gen(), drop_frames=False)
    assert keep2 is None
    hidden_frames = (~vis2.any(-1)).sum(-1)
    assert torch.all(hidden_frames == 13)


def test_clean_rows_are_fully_visible():
    cfg = MaskingConfig(temporal_ratio=0.3, limb_prob=0.5, clean_prob=0.5)
    vis, keep = sample_masks(cfg, 64, 27, SKEL, gen(1), drop_frames=False)
    full = vis.all(-1).all(-1)
    assert 10 < int(full.sum()) < 54  # about half the rows are clean
    with pytest.raises(ValueError, match="drop_frames"):
        sample_masks(cfg, 4, 27, SKEL, gen(), drop_frames=True)


def test_modes_and_validation():
    vis, keep = sample_masks(MaskingConfig(mode="temporal"), 2, 9, SKEL, gen())
    assert vis.all() and keep is not None
    vis, keep = sample_masks(MaskingConfig(mode="spatial"), 2, 9, SKEL, gen())
    assert keep is None and not vis.all()
    with pytest.raises(ValueError, match="masking mode"):
        MaskingConfig(mode="both")
    with pytest.raises(ValueError, match="temporal_ratio"):
        MaskingConfig(temporal_ratio=1.0)


def test_masks_are_reproducible_from_the_generator_seed():
    cfg = MaskingConfig(limb_prob=0.3)
    a = sample_masks(cfg, 4, 27, SKEL, gen(5))
    b = sample_masks(cfg, 4, 27, SKEL, gen(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
