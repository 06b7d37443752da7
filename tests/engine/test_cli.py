"""``python -m engine``: lift, complete, export, bench and their error messages."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from engine.cli import main
from tests.conftest import REPO

SIZE = (1088, 1920)


@pytest.fixture(scope="module")
def points_npz(tmp_path_factory, pose2sim_trial):
    det = pose2sim_trial.anim19(pose2sim_trial.detections["cam_01"])
    path = tmp_path_factory.mktemp("cli") / "clip.npz"
    np.savez(path, points=det[..., :2], confidence=np.nan_to_num(det[..., 2]), image_size=np.array(SIZE), fps=pose2sim_trial.fps)
    return path


def test_lift_writes_poses_trajectory_and_bvh(tiny_checkpoint, points_npz, tmp_path, capsys):
    out, bvh = tmp_path / "out.npz", tmp_path / "out.bvh"
    code = main(["lift", str(points_npz), "--model", str(tiny_checkpoint), "--out", str(out), "--bvh", str(bvh),
                 "--fit-bones", "--smooth", "savgol", "--trajectory", "--fov", "36"])
    assert code == 0, capsys.readouterr().err
    with np.load(out) as data:
        assert data["poses"].shape == (100, 19, 3) and data["root_translation"].shape == (100, 3)
        assert np.isfinite(data["poses_camera"]).all() and float(data["fps"]) == 60.0
        assert data["accel_after"] <= data["accel_before"]
        assert list(data["joints"][:2]) == ["pelvis", "right_hip"]
    text = bvh.read_text()
    assert text.startswith("HIERARCHY") and "Frames: 100" in text


def test_lift_from_json_with_missing_joints(tiny_checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(0)
    points = rng.uniform(100, 500, size=(30, 19, 2)).round(1).tolist()
    points[3][5] = [None, None]
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text(json.dumps({"points": points, "image_size": [640, 480]}))
    assert main(["lift", str(src), "--model", str(tiny_checkpoint), "--out", str(out), "--mode", "accurate"]) == 0, capsys.readouterr().err
    poses = np.asarray(json.loads(out.read_text())["poses"], dtype=float)
    assert poses.shape == (30, 19, 3) and np.isfinite(poses).all()


def test_complete_3d_and_2d(tiny_checkpoint, tmp_path, pose2sim_trial, points_npz, capsys):
    poses = pose2sim_trial.cameras["cam_01"].to_camera(pose2sim_trial.anim19(pose2sim_trial.world))
    poses[10:20, 13] = np.nan
    src, out = tmp_path / "poses.npz", tmp_path / "done.npz"
    np.savez(src, poses=poses)
    assert main(["complete", str(src), "--model", str(tiny_checkpoint), "--out", str(out), "--fps", "60", "--bvh", str(tmp_path / "c.bvh")]) == 0
    with np.load(out) as data:
        assert np.isfinite(data["poses"]).all()
        np.testing.assert_array_equal(data["poses"][:10], poses[:10])
    out2 = tmp_path / "done2.json"
    assert main(["complete", str(points_npz), "--model", str(tiny_checkpoint), "--out", str(out2)]) == 0, capsys.readouterr().err
    best = np.asarray(json.loads(out2.read_text())["points"], dtype=float)
    assert best.shape == (100, 19, 2) and np.isfinite(best).all()
    out3 = tmp_path / "done3.json"
    assert main(["complete", str(points_npz), "--model", str(tiny_checkpoint), "--out", str(out3), "--gap-fill", "model"]) == 0
    by_model = np.asarray(json.loads(out3.read_text())["points"], dtype=float)
    with np.load(points_npz) as clip:
        seen = clip["confidence"] >= 0.3
        np.testing.assert_allclose(best[seen], clip["points"][seen], atol=1e-3)
    np.testing.assert_allclose(by_model[seen], best[seen])
    assert not np.allclose(by_model, best)  # some gap went to interpolation (the tiny model fills badly)


def test_export_then_lift_with_onnxruntime_and_bench(tiny_checkpoint, points_npz, tmp_path, capsys):
    stem = tmp_path / "model"
    assert main(["export", str(tiny_checkpoint), "--out", str(stem), "--jobs", "lift_full"]) == 0
    assert (tmp_path / "model.lift_full.onnx").is_file()
    out = tmp_path / "o.npz"
    assert main(["lift", str(points_npz), "--model", str(stem), "--out", str(out)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["bench", "--model", str(stem), "--frames", "300", "--repeats", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == "onnxruntime" and result["frames"] == 300 and result["fps"] > 0


def test_keypoint_files_go_through_engine_keypoints(tiny_checkpoint, tmp_path, capsys, shared_data):
    folder = shared_data / "pose2sim_demo/S00_Demo_Session/S00_P00_SingleParticipant/S00_P00_T01_BalancingTrial/pose/cam01_json"
    out = tmp_path / "kp.npz"
    code = main(["lift", str(folder), "--model", str(tiny_checkpoint), "--out", str(out), "--image-size", "1088", "1920", "--fps", "60"])
    if importlib.util.find_spec("engine.keypoints") is None:
        assert code == 2 and "needs the engine.keypoints package" in capsys.readouterr().err
    else:
        assert code == 0, capsys.readouterr().err
        with np.load(out) as data:
            assert data["poses"].shape[1:] == (19, 3)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.npz", "does not exist"),
        (lambda d: (np.savez(d / "x.npz", other=np.zeros(3)), d / "x.npz")[1], "expected an array named 'points'"),
        (lambda d: (d.joinpath("bad.json").write_text("{nope"), d / "bad.json")[1], "not valid JSON"),
        (lambda d: (np.savez(d / "w.npz", points=np.zeros((5, 17, 2)), image_size=[640, 480]), d / "w.npz")[1], "expected shape (frames, 19, 2)"),
        (lambda d: (np.savez(d / "n.npz", points=np.zeros((5, 19, 2))), d / "n.npz")[1], "image size is unknown"),
    ],
)
def test_bad_inputs_give_one_line_errors(tiny_checkpoint, tmp_path, capsys, make, message):
    code = main(["lift", str(make(tmp_path)), "--model", str(tiny_checkpoint), "--out", str(tmp_path / "o.npz")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_python_dash_m_engine_runs():
    result = subprocess.run([sys.executable, "-m", "engine", "--help"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0 and "lift" in result.stdout and "export" in result.stdout
