"""Evaluation protocols, baselines and the report layout on synthetic data and the tiny model."""
import json

import numpy as np
import pytest
import torch

from engine.skeleton import get_skeleton
from .loop_fixtures import synthetic_cache, tiny_config  # noqa: F401  (fixtures)
from .motion_synthetic import synthetic_clips
from training.baselines import fill_missing
from training.eval_views import views_from_clips
from training.evaluate import OCCLUSION_CASES, PARTIAL_CASES, h36m_subset, main, occlusion_mask, score
from training.run_config import load_config
from training.train_baseline import train_baseline

SKEL = get_skeleton("anim19")


def test_eval_views_are_deterministic_root_relative_and_framed():
    clips = synthetic_clips({"05": 1}, frames=60)
    a, b = views_from_clips(clips, "anim19", 30.0), views_from_clips(clips, "anim19", 30.0)
    assert len(a) == 4 and all(np.array_equal(x.points_px, y.points_px) for x, y in zip(a, b))
    for v in a:
        assert np.allclose(v.pose_3d[:, SKEL.root], 0.0)
        assert (v.points_px > 0).all() and (v.points_px < 1000).all()  # the whole person in frame
        assert v.pose_3d.shape == (60, 19, 3)


def test_occlusion_cases_hide_the_named_limbs():
    legs = occlusion_mask("2_legs", 0, 5, SKEL, 0)
    hidden = set(np.flatnonzero(~legs[0]))
    assert hidden == set(SKEL.limb_indices("left_leg")) | set(SKEL.limb_indices("right_leg"))
    one = occlusion_mask("1_joint", 3, 5, SKEL, 0)
    assert (~one).sum(-1).tolist() == [1] * 5 and one[:, SKEL.root].all()
    assert (~occlusion_mask("2_joints", 3, 5, SKEL, 0)).sum(-1).tolist() == [2] * 5


def test_fill_interpolates_seen_joints_and_mirrors_unseen_limbs():
    pose = views_from_clips(synthetic_clips({"05": 1}, frames=30), "anim19", 30.0)[0].pose_3d
    visible = np.ones(pose.shape[:2], bool)
    wrist = SKEL.index("right_wrist")
    visible[10:15, wrist] = False
    filled = fill_missing(pose, visible, SKEL)
    assert np.allclose(filled[visible], pose[visible])
    assert np.linalg.norm(filled[10:15, wrist] - pose[10:15, wrist], axis=-1).max() < 0.08
    visible[:] = True
    visible[:, SKEL.limb_indices("left_leg")] = False
    mirrored = fill_missing(pose, visible, SKEL)
    knee, twin = SKEL.index("left_knee"), SKEL.index("right_knee")
    # the mirrored knee sits as far from the pelvis as the real one
    assert np.allclose(np.linalg.norm(mirrored[:, knee], axis=-1), np.linalg.norm(pose[:, twin], axis=-1), atol=1e-6)
    assert np.linalg.norm(mirrored[:, knee] - pose[:, knee], axis=-1).mean() < 0.25


def test_h36m17_mpjpe_leaves_out_the_toes_only():
    view = views_from_clips(synthetic_clips({"05": 1}, frames=30), "anim19", 30.0)[0]
    subset = h36m_subset(SKEL)
    assert subset.sum() == 17 and not subset[[SKEL.index("left_toe"), SKEL.index("right_toe")]].any()
    assert h36m_subset(get_skeleton("h36m17")) is None  # nothing to leave out
    pred = view.pose_3d.copy()
    pred[:, SKEL.index("left_toe"), 0] += 0.19  # 19 cm off on one of 19 joints: 10 mm MPJPE
    pred[:, SKEL.index("left_knee"), 1] += 0.017  # 17 mm on one of the 17
    m = score([pred], [view], h36m=subset)
    assert m["mpjpe"] == pytest.approx(10.0 + 17.0 / 19, abs=1e-3)
    assert m["mpjpe_h36m17"] == pytest.approx(1.0, abs=1e-3)
    assert "mpjpe_h36m17" not in score([pred], [view])


def test_breakdowns_by_action_and_joint():
    from dataclasses import replace

    from training.evaluate import format_breakdown

    a, b = views_from_clips(synthetic_clips({"05": 1}, frames=30), "anim19", 30.0)[:2]
    a, b = replace(a, action="walk"), replace(b, action="box")
    pa, pb = a.pose_3d.copy(), b.pose_3d.copy()
    pa[:, SKEL.index("left_wrist"), 2] += 0.19  # walk: 19 cm on the left wrist, 10 mm MPJPE
    pb[:, SKEL.index("head"), 0] += 0.038  # box: 38 mm on the head, 2 mm MPJPE
    m = score([pa, pb], [a, b], joints=SKEL.joints)
    assert m["mpjpe_per_action"] == pytest.approx({"walk": 10.0, "box": 2.0}, abs=1e-3)
    assert m["mpjpe"] == pytest.approx(6.0, abs=1e-3)  # the mean over the two actions
    per_joint = m["mpjpe_per_joint"]
    assert list(per_joint) == list(SKEL.joints)
    # averaged over actions like mpjpe: the wrist is 190 mm off in one action of two
    assert per_joint["left_wrist"] == pytest.approx(95.0, abs=1e-3) and per_joint["head"] == pytest.approx(19.0, abs=1e-3)
    assert per_joint["right_knee"] == pytest.approx(0.0, abs=1e-6)
    no_head = replace(a, pose_3d=a.pose_3d.copy())
    no_head.pose_3d[:, SKEL.index("head")] = np.nan  # a rig without a head top: left out
    unknown = score([pa], [replace(no_head, action=None)], joints=SKEL.joints)
    assert "head" not in unknown["mpjpe_per_joint"] and "mpjpe_per_action" not in unknown
    report = {"protocols": {"lift_gt2d": {"all": m}}, "baselines": {"mlp": {"lift_gt2d": {"all": {"mpjpe_per_action": {"walk": 12.0}}}}}}
    table = format_breakdown(report, "mpjpe_per_action").splitlines()
    assert table[0].split() == ["MPJPE", "by", "action", "mpm", "gt2d", "mlp", "gt2d"]
    assert table[2].split() == ["walk", "10.0", "12.0"] and table[3].split() == ["box", "2.0", "-"]
    assert format_breakdown({"protocols": {"partial3d": {"right_leg": m}}}, "mpjpe_per_joint") == ""


def test_evaluate_cli_report_layout_with_baselines(tiny_config, tmp_path, synthetic_cache, tiny_checkpoint):
    cfg = load_config(tiny_config, out=str(tmp_path / "run"))
    baseline = train_baseline(cfg, tmp_path / "mlp", max_steps=3)
    out = tmp_path / "report.json"
    assert main(["--checkpoint", str(tiny_checkpoint), "--data", str(synthetic_cache), "--subjects", "09",
                 "--baseline", f"mlp={baseline}", "--out", str(out), "--threads", "1"]) == 0
    report = json.loads(out.read_text())
    protocols = report["protocols"]
    assert protocols["lift_gt2d"]["all"]["mpjpe"] > 0 and protocols["lift_noisy2d"]["all"]["frames"] == 2 * 4 * 90
    assert set(protocols["occluded2d"]) == set(OCCLUSION_CASES)
    assert set(protocols["partial3d"]) == set(PARTIAL_CASES)
    for case in protocols["partial3d"].values():
        assert case["mpjpe_missing"] > case["mpjpe"] > 0  # observed joints come back exact
    for m in protocols["lift_gt2d"]["all"], protocols["occluded2d"]["2_arms"]:
        assert set(m) >= {"mpjpe", "p_mpjpe", "pck150", "auc", "accel", "mpjpe_h36m17", "mpjpe_per_joint"} and m["p_mpjpe"] <= m["mpjpe"]
        assert set(m["mpjpe_per_joint"]) <= set(SKEL.joints) and m["mpjpe_per_joint"]["pelvis"] == 0.0
        # one entry per clip (its four camera views pooled), frame-weighted back to mpjpe
        clips = m["mpjpe_per_clip"]
        assert len(clips) == 2 and all(c.count("/") == 1 for c in clips)
        assert sum(c["frames"] for c in clips.values()) == m["frames"]
        pooled = sum(c["mpjpe"] * c["frames"] for c in clips.values()) / m["frames"]
        assert pooled == pytest.approx(m["mpjpe"], abs=2e-3)
    assert set(report["baselines"]) == {"mlp", "fill"}
    assert report["baselines"]["mlp"]["lift_gt2d"]["all"]["mpjpe"] > 0
    assert set(report["baselines"]["fill"]) == {"partial3d"}
    assert report["cameras"]["azimuth_deg"] == [45.0, 135.0, 225.0, 315.0]
    # another checkpoint against the same baselines without their checkpoints at hand
    again = tmp_path / "again.json"
    common = ["--checkpoint", str(tiny_checkpoint), "--data", str(synthetic_cache), "--subjects", "09", "--threads", "1",
              "--protocols", "lift_gt2d", "partial3d", "--baselines-from", str(out)]
    assert main([*common, "--out", str(again)]) == 0
    reused = json.loads(again.read_text())
    assert reused["baselines"]["mlp"] == report["baselines"]["mlp"] and reused["baselines_from"] == {"mlp": str(out)}
    assert reused["baselines"]["fill"]["partial3d"] == report["baselines"]["fill"]["partial3d"]  # measured again
    with pytest.raises(ValueError, match="noise_px"):
        main([*common, "--noise-px", "5", "--out", str(tmp_path / "other.json")])


def test_centre_head_with_stride_scores_only_evaluated_frames(tmp_path, synthetic_cache, tiny_checkpoint):
    out = tmp_path / "r.json"
    main(["--checkpoint", str(tiny_checkpoint), "--data", str(synthetic_cache), "--subjects", "09", "--head", "centre",
          "--frame-stride", "10", "--protocols", "lift_gt2d", "--out", str(out)])
    m = json.loads(out.read_text())["protocols"]["lift_gt2d"]["all"]
    assert m["frames"] == 2 * 4 * 9 and np.isnan(m["accel"])


def test_real2d_on_the_pose2sim_demo(tmp_path, tiny_checkpoint, shared_data):
    from training.real2d import real2d_views

    demo = shared_data / "pose2sim_demo"

    views = real2d_views(demo, "anim19", 30.0)
    assert len(views) >= 4 and all(v.meta["reprojection_px"] < 20 for v in views)
    balancing = [v for v in views if "Balancing" in v.name]
    assert balancing and balancing[0].pose_3d.shape[0] == 50  # 100 frames at 60 fps -> 30 fps
    height = np.nanmax(balancing[0].pose_3d[..., 1]) - np.nanmin(balancing[0].pose_3d[..., 1])
    assert 1.3 < height < 2.0  # camera y is down the image: the person stands upright in the view
    out = tmp_path / "r.json"
    main(["--checkpoint", str(tiny_checkpoint), "--real2d", str(demo), "--protocols", "real2d", "--out", str(out)])
    report = json.loads(out.read_text())
    assert {"all", "cam_01", "cam_04"} <= set(report["protocols"]["real2d"])


@pytest.mark.parametrize("bad", ["mlp", "mlp="])
def test_bad_baseline_argument_is_refused(bad, tmp_path, tiny_checkpoint, synthetic_cache):
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(tiny_checkpoint), "--data", str(synthetic_cache), "--baseline", bad, "--out", str(tmp_path / "r.json")])


@pytest.mark.parametrize("head", ["centre", "full"])
def test_flip_test_time_augmentation_makes_lifting_mirror_equivariant(tiny_model, head):
    from training.predictors import MPMPredictor

    skel = get_skeleton(tiny_model.cfg.skeleton)
    rng = np.random.default_rng(0)
    points = rng.normal(0.0, 0.3, (40, skel.num_joints, 2)).astype(np.float32)
    visible = rng.random((40, skel.num_joints)) > 0.2
    mirrored_points = points[:, skel.flip_permutation] * np.array([-1.0, 1.0], np.float32)
    mirrored_visible = visible[:, skel.flip_permutation]

    def mirror_3d(pose):
        return pose[:, skel.flip_permutation] * np.array([-1.0, 1.0, 1.0])

    plain = MPMPredictor(tiny_model, head=head)
    flip = MPMPredictor(tiny_model, head=head, flip=True)
    a, b = plain.lift_many([(points, visible), (mirrored_points, mirrored_visible)])
    assert np.abs(mirror_3d(b) - a).max() > 1e-3  # a random model alone is not mirror-symmetric
    fa, fb = flip.lift_many([(points, visible), (mirrored_points, mirrored_visible)])
    np.testing.assert_allclose(mirror_3d(fb), fa, atol=1e-5)
    np.testing.assert_allclose(fa, 0.5 * (a + mirror_3d(b)), atol=1e-5)  # the average of the two passes


def test_both_heads_average_the_centre_and_full_head(tiny_model):
    from training.predictors import MPMPredictor

    skel = get_skeleton(tiny_model.cfg.skeleton)
    rng = np.random.default_rng(2)
    items = [(rng.normal(0.0, 0.3, (f, skel.num_joints, 2)).astype(np.float32), rng.random((f, skel.num_joints)) > 0.2) for f in (40, 9)]
    for flip in (False, True):
        centre = MPMPredictor(tiny_model, head="centre", flip=flip).lift_many(items)
        full = MPMPredictor(tiny_model, head="full", flip=flip).lift_many(items)
        both = MPMPredictor(tiny_model, head="both", flip=flip).lift_many(items)
        for c, f, b in zip(centre, full, both):
            assert np.abs(c - f).max() > 1e-3  # the two heads differ, so the mean is a third answer
            np.testing.assert_allclose(b, 0.5 * (c + f), atol=1e-6)
    with pytest.raises(ValueError, match="head"):
        MPMPredictor(tiny_model, head="middle")


def test_flip_applies_to_3d_completion(tiny_model):
    from training.predictors import MPMPredictor

    skel = get_skeleton(tiny_model.cfg.skeleton)
    rng = np.random.default_rng(1)
    pose = rng.normal(0.0, 0.3, (30, skel.num_joints, 3)).astype(np.float32)
    pose -= pose[:, skel.root : skel.root + 1]
    visible = np.ones((30, skel.num_joints), bool)
    visible[:, skel.limb_indices("left_arm")] = False
    mirror = np.array([-1.0, 1.0, 1.0], np.float32)
    flip = MPMPredictor(tiny_model, flip=True)
    out, out_mirrored = flip.complete_many([(pose, visible), (pose[:, skel.flip_permutation] * mirror, visible[:, skel.flip_permutation])])
    np.testing.assert_allclose(out_mirrored[:, skel.flip_permutation] * mirror, out, atol=1e-5)
    np.testing.assert_array_equal(out[visible], pose[visible])  # observed joints come back as given


@pytest.mark.parametrize("head", ["centre", "full"])
def test_centred_view_lifting_matches_the_engine_and_reaches_the_mlp(tiny_model, head):
    """Evaluation lifts the way the product does: with a model trained on centred views and
    a known camera, MPMPredictor gives what the engine's runtime gives (full head: the
    engine's hop and cross-fade differ, so only the centre head, with flip as in the
    accurate mode, is compared exactly), and the MLP baseline is centred frame by frame
    when asked."""
    from dataclasses import replace

    from engine.backends import TorchBackend
    from engine.coords import normalize_screen
    from engine.perspective import ViewCentring
    from training.baselines import MLPLifter
    from training.predictors import MLPPredictor, MPMPredictor

    model = type(tiny_model)(replace(tiny_model.cfg, view_centring=True))
    model.load_state_dict(tiny_model.state_dict())
    model.eval()
    skel = get_skeleton(model.cfg.skeleton)
    w, h, intrinsics = 1280.0, 720.0, (900.0, 900.0, 640.0, 360.0)
    rng = np.random.default_rng(4)
    px = np.array([900.0, 250.0]) + rng.normal(0.0, 60.0, (35, skel.num_joints, 2))  # a person right of centre
    visible = np.ones(px.shape[:2], bool)
    view = ViewCentring.from_pixels(intrinsics, w, h)
    points = normalize_screen(px, w, h)
    centred, = MPMPredictor(model, head=head).lift_many([(points, visible)], [view])
    plain, = MPMPredictor(model, head=head).lift_many([(points, visible)])
    assert np.abs(centred - plain).max() > 1e-2
    if head == "centre":
        from engine.runtime import run_centre

        engine = run_centre(TorchBackend(model, device="cpu"), points.astype(np.float32), visible, skel.flip_permutation, view=view)
        flip, = MPMPredictor(model, head=head, flip=True).lift_many([(points, visible)], [view])
        np.testing.assert_allclose(flip, engine, atol=1e-4)
    torch.manual_seed(0)
    mlp = MLPLifter(skel.name, width=64, input_norm="frame")
    a, = MLPPredictor(mlp, skel.name, view_centring=True).lift_many([(points, visible)], [view])
    b, = MLPPredictor(mlp, skel.name).lift_many([(points, visible)], [view])
    assert a.shape == b.shape == (35, skel.num_joints, 3) and np.abs(a - b).max() > 1e-3


def test_baselines_are_not_reused_across_view_centring():
    from training.evaluate import reuse_baselines

    settings = {"data": "d", "kind": "motion", "subjects": ["02"], "real2d": None, "views": 4, "real2d_views": 0,
                "seed": 0, "noise_px": 3.0, "cameras": {}, "model": {"skeleton": "anim19"}}
    older = {**settings, "baselines": {"mlp": {"lift_gt2d": {}}}}  # a report from before view centring
    assert reuse_baselines({**settings, "view_centring": False, "baselines": {}}, older) == ["mlp"]
    with pytest.raises(ValueError, match="view_centring"):
        reuse_baselines({**settings, "view_centring": True, "baselines": {}}, older)
    # flip-averaged baselines are other baselines
    with pytest.raises(ValueError, match="baseline_flip"):
        reuse_baselines({**settings, "view_centring": False, "baseline_flip": True, "baselines": {}}, older)


def _mirror(values: np.ndarray) -> np.ndarray:
    sign = np.ones(values.shape[-1], np.float32)
    sign[0] = -1.0
    return values[:, SKEL.flip_permutation] * sign


def test_runtime_predictor_gives_what_engine_api_gives(tiny_model):
    """--runtime measures the product itself: RuntimePredictor on normalised 2D and a known
    camera equals engine.api.lift on the pixels and intrinsics (both modes, view-centred),
    and its completion equals engine.api.complete_3d."""
    from dataclasses import replace

    from engine import api
    from engine.backends import TorchBackend
    from engine.coords import normalize_screen
    from engine.perspective import ViewCentring
    from training.predictors import RuntimePredictor

    model = type(tiny_model)(replace(tiny_model.cfg, view_centring=True))
    model.load_state_dict(tiny_model.state_dict())
    model.eval()
    w, h, intrinsics = 1280.0, 720.0, (900.0, 900.0, 640.0, 360.0)
    rng = np.random.default_rng(5)
    px = (np.array([850.0, 300.0]) + rng.normal(0.0, 60.0, (40, SKEL.num_joints, 2))).astype(np.float32)
    visible = rng.random(px.shape[:2]) > 0.1
    view = ViewCentring.from_pixels(intrinsics, w, h)
    backend = TorchBackend(model, device="cpu")
    results = {}
    for mode in ("fast", "accurate"):
        got, = RuntimePredictor(model, mode).lift_many([(normalize_screen(px, w, h), visible)], [view])
        want = api.lift(backend, np.where(visible[..., None], px, np.nan), image_size=(w, h), mode=mode, intrinsics=intrinsics)
        np.testing.assert_allclose(got, want, atol=1e-5)
        results[mode] = got
    assert np.abs(results["fast"] - results["accurate"]).max() > 1e-3
    pose = rng.normal(0.0, 0.3, (40, SKEL.num_joints, 3)).astype(np.float32)
    pose -= pose[:, SKEL.root : SKEL.root + 1]
    seen = np.ones(pose.shape[:2], bool)
    seen[:, SKEL.limb_indices("right_leg")] = False
    done, = RuntimePredictor(model).complete_many([(pose, seen)])
    np.testing.assert_allclose(done, api.complete_3d(backend, pose, seen), atol=1e-6)
    with pytest.raises(ValueError, match="mode"):
        RuntimePredictor(model, "slow")


def test_mlp_baseline_flip_is_mirror_equivariant():
    from training.baselines import MLPLifter
    from training.predictors import MLPPredictor

    torch.manual_seed(0)
    mlp = MLPLifter(SKEL.name, width=64, input_norm="frame")
    rng = np.random.default_rng(6)
    points = rng.normal(0.0, 0.3, (25, SKEL.num_joints, 2)).astype(np.float32)
    visible = np.ones(points.shape[:2], bool)
    plain = MLPPredictor(mlp, SKEL.name)
    a, b = plain.lift_many([(points, visible), (_mirror(points), visible)])
    assert np.abs(_mirror(b) - a).max() > 1e-3  # a random MLP alone is not mirror-symmetric
    fa, fb = MLPPredictor(mlp, SKEL.name, flip=True).lift_many([(points, visible), (_mirror(points), visible)])
    np.testing.assert_allclose(_mirror(fb), fa, atol=1e-5)
    np.testing.assert_allclose(fa, 0.5 * (a + _mirror(b)), atol=1e-5)


def test_evaluate_cli_runtime_mode(tmp_path, synthetic_cache, tiny_checkpoint):
    out = tmp_path / "r.json"
    common = ["--checkpoint", str(tiny_checkpoint), "--data", str(synthetic_cache), "--subjects", "09", "--threads", "1"]
    assert main([*common, "--runtime", "accurate", "--protocols", "lift_gt2d", "partial3d", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["runtime"] == "accurate" and report["head"] is None and report["baseline_flip"] is False
    assert report["protocols"]["lift_gt2d"]["all"]["mpjpe"] > 0
    assert report["protocols"]["partial3d"]["left_arm"]["mpjpe_missing"] > 0
    for clash in (["--head", "centre"], ["--flip"], ["--frame-stride", "2"]):
        with pytest.raises(SystemExit):
            main([*common, "--runtime", "fast", *clash, "--out", str(tmp_path / "x.json")])
