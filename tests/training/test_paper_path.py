"""The paper's path end to end on tiny synthetic files in the community layouts:
Human3.6M (VideoPose3D npz) and MPI-INF-3DHP (P-STMO npz), a few steps of each stage
with the paper configs' settings, then the evaluation."""
import json
from pathlib import Path

import numpy as np
import pytest

from engine.checkpoint import read_checkpoint
from engine.skeleton import convert_joints, get_skeleton
from .loop_fixtures import synthetic_cache  # noqa: F401  (fixture)
from .motion_synthetic import synthetic_positions
from training.evaluate import main as evaluate_main
from training.data.mpi3dhp import MPI17_TO_H36M17 as MPI_TO_H36M
from training.paper_data import load_paper_sequences, write_h36m_layout, write_h36m_stand_in
from training.run_config import DataSpec, load_config
from training.train import train

REPO = Path(__file__).resolve().parents[2]
H36M = get_skeleton("h36m17")


def _h36m_world(frames: int, seed: int) -> np.ndarray:
    """(F, 17, 3) metres in Human3.6M's world (Z up, subject near the origin)."""
    anim = synthetic_positions(frames, fps=50.0, seed=seed)
    anim[..., :2] -= anim[:, :1, :2].mean(0)  # walk around the room's centre
    return convert_joints(anim, get_skeleton("anim19"), H36M)


@pytest.fixture(scope="module")
def h36m_files(tmp_path_factory) -> Path:
    world = {
        subject: {action: _h36m_world(140, seed=10 * si + ai) for ai, action in enumerate(["Walking 1", "Directions"])}
        for si, subject in enumerate(["S1", "S9"])
    }
    return write_h36m_layout(tmp_path_factory.mktemp("h36m"), world)


@pytest.fixture(scope="module")
def mpi_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("3dhp")

    def camera_sequence(frames, seed, size):
        world = convert_joints(synthetic_positions(frames, fps=25.0, seed=seed), get_skeleton("anim19"), H36M)
        world[..., :2] -= world[:, :1, :2].mean(0)
        cam3d = np.stack([world[..., 0], -world[..., 2] + 1.0, world[..., 1] + 4.0], -1)  # camera 4 m in front
        px = cam3d[..., :2] / cam3d[..., 2:3] * 1500.0 + np.array(size) / 2
        return cam3d[:, MPI_TO_H36M] * 1000.0, px[:, MPI_TO_H36M]

    train = {}
    for s, seq in (("S1", "Seq1"), ("S2", "Seq1")):
        cams = {}
        for cam in ("0", "1"):
            p3, p2 = camera_sequence(100, hash((s, cam)) % 1000, (2048, 2048))
            cams[cam] = {"data_3d": p3.astype(np.float32), "data_2d": p2.astype(np.float32)}
        train[f"{s} {seq}"] = [cams, 50]
    test = {}
    for ts, size in (("TS1", (2048, 2048)), ("TS5", (1920, 1080))):
        p3, p2 = camera_sequence(90, len(ts) + int(ts[-1]), size)
        valid = np.ones(90, bool)
        valid[:5] = False
        test[ts] = {"data_3d": p3.astype(np.float32), "data_2d": p2.astype(np.float32), "valid": valid}
    np.savez(folder / "data_train_3dhp.npz", data=train)
    np.savez(folder / "data_test_3dhp.npz", data=test)
    return folder / "data_train_3dhp.npz", folder / "data_test_3dhp.npz"


def test_h36m_reader_puts_the_subject_in_front_of_each_camera(h36m_files):
    seqs = load_paper_sequences(DataSpec(path=str(h36m_files), kind="h36m", subjects=("S1",)), "h36m17")
    assert len(seqs) == 2 * 4 and {s["action"] for s in seqs} == {"Walking", "Directions"}
    for s in seqs:
        depth = s["pose_3d"][..., 2]
        assert 3.0 < depth.mean() < 7.5  # Human3.6M's cameras stand 4-6 m from the room's centre
        # camera y points down: the head is above (smaller y than) the pelvis
        assert (s["pose_3d"][:, H36M.index("head"), 1] < s["pose_3d"][:, 0, 1]).all()
        assert s["image_size"] in ((1000, 1002), (1000, 1000)) and s["fps"] == 50.0


def _paper_config(tmp_path: Path, base: str, replacements: dict[str, str]) -> Path:
    text = (REPO / "training" / "configs" / base).read_text()
    text = text.replace('preset = "paper"  ', 'preset = "tiny"\nskeleton = "h36m17"\nfps = 25.0\n#')
    text = text.replace('preset = "paper3dhp"', 'preset = "tiny"\nskeleton = "h36m17"\nfps = 25.0\n#')
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    text = text.replace("batch_size = 1024", "batch_size = 4\nsteps_per_epoch = 2").replace("epochs = 50", "epochs = 1")
    text = text.replace("val_windows = 4096", "val_windows = 4")
    text = "threads = 1\n" + text  # tiny tensors: one thread is faster, and kind to a busy machine
    path = tmp_path / base
    path.write_text(text)
    return path


def test_paper_h36m_config_end_to_end(h36m_files, tmp_path):
    cfg_path = _paper_config(tmp_path, "paper_h36m_243.toml", {
        "data/h36m/data_3d_h36m.npz": h36m_files.as_posix(),
        '"S1", "S5", "S6", "S7", "S8"': '"S1"', '"S9", "S11"': '"S9"',
        'keypoints = "cpn_ft_h36m_dbb"': 'keypoints = "gt"',
        'out = "runs/paper_h36m_243"': f'out = "{(tmp_path / "run").as_posix()}"',
    })
    cfg = load_config(cfg_path)
    assert cfg.stage1.weights.mask_2d == 5.0 and cfg.stage2.weights.centre == 2.0 and cfg.stage2.masking.mode == "none"
    final = train(cfg)
    assert final is not None and final.exists()
    out = tmp_path / "h36m.json"
    assert evaluate_main(["--checkpoint", str(final), "--kind", "h36m", "--data", str(h36m_files), "--subjects", "S9",
                          "--head", "centre", "--protocols", "lift_gt2d", "partial3d", "--threads", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["views"] == 8 and report["protocols"]["lift_gt2d"]["all"]["frames"] == 8 * 70  # 140 frames at 50 -> 25 fps


def test_paper_3dhp_mix_config_end_to_end(h36m_files, mpi_files, synthetic_cache, tmp_path):
    train_file, test_file = mpi_files
    cfg_path = _paper_config(tmp_path, "paper_3dhp_mix.toml", {
        "data/h36m/data_3d_h36m.npz": h36m_files.as_posix(),
        '"S1", "S5", "S6", "S7", "S8"': '"S1"',
        "data/3dhp/data_train_3dhp.npz": train_file.as_posix(),
        "data/3dhp/data_test_3dhp.npz": test_file.as_posix(),
        "build/data/mocap.npz": synthetic_cache.as_posix(),
        'out = "runs/paper_3dhp_mix"': f'out = "{(tmp_path / "run").as_posix()}"',
    })
    cfg = load_config(cfg_path)
    assert [s.kind for s in cfg.train] == ["h36m", "3dhp", "motion"] and cfg.model.depth == 1
    final = train(cfg)
    meta = read_checkpoint(final)["meta"]
    assert all(n > 0 for n in meta["train_windows"]) and meta["val_subjects"] == ["TS1", "TS5"]
    out = tmp_path / "3dhp.json"
    assert evaluate_main(["--checkpoint", str(final), "--kind", "3dhp", "--data", str(test_file), "--head", "centre",
                          "--protocols", "lift_gt2d", "--threads", "1", "--out", str(out)]) == 0
    m = json.loads(out.read_text())["protocols"]["lift_gt2d"]["all"]
    # 90 frames at 50 fps -> 45 at 25 fps, of which the first 3 (frames 0, 2, 4) are not valid
    assert m["frames"] == 2 * 42 and 0 <= m["pck150"] <= 100 and 0 <= m["auc"] <= m["pck150"]


def test_h36m_stand_in_has_the_requested_size_in_the_real_layout(synthetic_cache, tmp_path):
    """The benchmark's Human3.6M stand-in: exactly the training frames asked for, over the
    training subjects, one window per 50 fps frame pair at the paper's 25 fps."""
    from training.data import load_prepared

    path = write_h36m_stand_in(tmp_path, load_prepared(synthetic_cache), ["S1", "S5"], ["S9"], train_frames=1001)
    train = load_paper_sequences(DataSpec(path=str(path), kind="h36m", subjects=("S1", "S5")), "h36m17")
    per_camera = {}
    for seq in train:
        per_camera[seq["name"].rsplit("/", 1)[1]] = per_camera.get(seq["name"].rsplit("/", 1)[1], 0) + len(seq["pose_3d"])
    assert set(per_camera.values()) == {1001} and len(per_camera) == 4
    val = load_paper_sequences(DataSpec(path=str(path), kind="h36m", subjects=("S9",)), "h36m17")
    assert {s["subject"] for s in val} == {"S9"} and all(np.isfinite(s["pose_2d"]).all() for s in val)
    for seq in train + val:  # in front of every camera, upright
        assert seq["pose_3d"][..., 2].min() > 1.0
        assert (seq["pose_3d"][:, H36M.index("head"), 1] < seq["pose_3d"][:, 0, 1]).mean() > 0.95


def test_view_centring_is_refused_for_real_camera_sequences(h36m_files):
    """Their windows carry no intrinsics to centre with: a clear error, not silently
    uncentred training."""
    from dataclasses import replace

    from training.datasets import build_source

    cfg = load_config(Path(__file__).resolve().parents[2] / "training" / "configs" / "paper_h36m_243.toml")
    centred = replace(cfg, model=replace(cfg.model, view_centring=True))
    spec = DataSpec(path=str(h36m_files), kind="h36m", subjects=("S1",), options={"keypoints": "gt"})
    assert build_source(spec, cfg) is not None
    with pytest.raises(ValueError, match="view_centring"):
        build_source(spec, centred)
