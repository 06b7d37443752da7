"""Bad input gets an error naming what is wrong and what was expected, never a framework traceback."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.api import complete_2d, complete_3d, lift
from engine.backends import BackendError, TorchBackend, load_backend
from engine.checkpoint import CheckpointError, save_checkpoint
from engine.config import MPMConfig
from engine.model import MPM
from engine.validate import InputError

SIZE = (640, 480)


@pytest.fixture(scope="module")
def backend(tiny_model):
    return TorchBackend(tiny_model, device="cpu")


def _points(frames: int = 20, joints: int = 19) -> np.ndarray:
    return np.random.default_rng(0).uniform(100, 400, size=(frames, joints, 2)).astype(np.float32)


@pytest.mark.parametrize(
    "points, message",
    [
        (_points(joints=17), r"expected shape \(frames, 19, 2\) for skeleton 'anim19', got \(20, 17, 2\); 17 joints is the 'h36m17' layout"),
        (_points(joints=25), r"got \(20, 25, 2\); convert detector keypoints with engine.keypoints.to_skeleton"),
        (_points().transpose(0, 2, 1), r"the axes look swapped: expected \(frames, joints, 2\)"),
        (_points().reshape(20, 38), r"flat joints: reshape to \(frames, 19, 2\)"),
        (_points()[..., :1], r"expected shape \(frames, 19, 2\)"),
        (np.zeros((0, 19, 2), np.float32), r"empty clip \(0 frames\)"),
        (np.full((20, 19, 2), np.nan, np.float32), r"no visible joint in the whole clip"),
        (np.where(np.arange(20)[:, None, None] == 4, np.inf, _points()), r"infinite values at frames \[4\]; expected finite numbers \(NaN marks a missing joint\)"),
        (_points().astype(str), r"expected a float \(or integer\) array, got dtype <U"),
        (np.ones((20, 19, 2), bool), r"expected a float \(or integer\) array, got dtype bool"),
        ([[1, 2], [3]], r"points_px: expected a numeric array"),
    ],
)
def test_lift_rejects_bad_points(backend, points, message):
    with pytest.raises(InputError, match=message):
        lift(backend, points, None, SIZE)


def test_lift_rejects_bad_arguments(backend):
    p = _points()
    with pytest.raises(InputError, match=r"confidence: expected shape \(20, 19\)"):
        lift(backend, p, np.ones((20, 17)), SIZE)
    with pytest.raises(InputError, match="no visible joint in the whole clip .*min_confidence=0.3"):
        lift(backend, p, np.full((20, 19), 0.1), SIZE)
    with pytest.raises(InputError, match="confidence: infinite"):
        lift(backend, p, np.full((20, 19), np.inf), SIZE)
    with pytest.raises(InputError, match=r"image_size: required .* expected \(width, height\)"):
        lift(backend, p, None, None)
    with pytest.raises(InputError, match="image_size: expected positive finite"):
        lift(backend, p, None, (0, 480))
    with pytest.raises(InputError, match="mode: expected one of 'fast', 'accurate', got 'slow'"):
        lift(backend, p, None, SIZE, mode="slow")
    with pytest.raises(InputError, match="fps: expected a positive frame rate"):
        lift(backend, p, None, SIZE, fps=-30)
    with pytest.raises(InputError, match="backend: expected an engine backend .* got str"):
        lift("model.pt", p, None, SIZE)


def test_completion_rejects_bad_inputs(backend):
    poses = np.random.default_rng(1).normal(size=(20, 19, 3))
    with pytest.raises(InputError, match=r"poses: expected shape \(frames, 19, 3\)"):
        complete_3d(backend, poses[..., :2])
    with pytest.raises(InputError, match="visible: expected a bool array"):
        complete_3d(backend, poses, np.ones((20, 19), np.float32))
    with pytest.raises(InputError, match=r"visible: expected shape \(20, 19\)"):
        complete_3d(backend, poses, np.ones((20, 18), bool))
    holes = poses.copy()
    holes[3, 4] = np.nan
    with pytest.raises(InputError, match=r"joints marked visible are NaN at frames \[3\]"):
        complete_3d(backend, holes, np.ones((20, 19), bool))
    with pytest.raises(InputError, match="no visible joint in the whole clip"):
        complete_3d(backend, poses, np.zeros((20, 19), bool))
    with pytest.raises(InputError, match="image_size: required"):
        complete_2d(backend, _points(), None, None)


def test_backend_rejects_bad_batches(backend):
    n, j = backend.config.num_frames, backend.config.num_joints
    with pytest.raises(TypeError, match="expected pose float32 and visible bool, got float64"):
        backend.run("lift_full", np.zeros((1, n, j, 2)), np.ones((1, n, j), bool))
    with pytest.raises(ValueError, match=r"windows must have 1..27 frames, got 28"):
        backend.run("lift_full", np.zeros((1, n + 1, j, 2), np.float32), np.ones((1, n + 1, j), bool))
    with pytest.raises(ValueError, match="centre-frame head needs windows of exactly 27 frames, got 10"):
        backend.run("lift_centre", np.zeros((1, 10, j, 2), np.float32), np.ones((1, 10, j), bool))
    with pytest.raises(ValueError, match="unknown job 'lift'"):
        backend.run("lift", np.zeros((1, n, j, 2), np.float32), np.ones((1, n, j), bool))


def test_mismatched_or_foreign_model_files(tmp_path, tiny_model):
    # weights of one config saved under another config's name
    other = MPMConfig.preset("tiny", width=32, heads=2)
    wrong = tmp_path / "wrong.pt"
    save_checkpoint(wrong, tiny_model, other)
    with pytest.raises(CheckpointError, match="weights do not fit the config"):
        load_backend(wrong)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a loadable MPM checkpoint"):
        load_backend(junk)
    torch.save({"model": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="is not an MPM checkpoint"):
        load_backend(tmp_path / "foreign.pt")
    bad_onnx = tmp_path / "x.lift_full.onnx"
    bad_onnx.write_bytes(b"garbage")
    with pytest.raises(BackendError, match="is not a loadable ONNX model"):
        load_backend(bad_onnx)
    with pytest.raises(BackendError, match="no ONNX model set at"):
        load_backend(tmp_path / "nothing")
    with pytest.raises(BackendError, match="the torch backend needs one"):
        load_backend(bad_onnx, backend="torch")
    with pytest.raises(ValueError, match="unknown backend 'tensorflow'"):
        load_backend(wrong, backend="tensorflow")


def test_onnx_without_our_metadata_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["pose"], ["pose_3d"])], "g",
                              [helper.make_tensor_value_info("pose", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("pose_3d", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), tmp_path / "m.lift_full.onnx")
    with pytest.raises(BackendError, match="has no 'mpm_config' metadata"):
        load_backend(tmp_path / "m.lift_full.onnx")


def test_config_of_another_skeleton_is_named(tmp_path):
    model = MPM(MPMConfig.preset("tiny", skeleton="h36m17")).eval()
    backend = TorchBackend(model, device="cpu")
    with pytest.raises(InputError, match=r"expected shape \(frames, 17, 2\) for skeleton 'h36m17', got \(20, 19, 2\); 19 joints is the 'anim19' layout"):
        lift(backend, _points(), None, SIZE)
