"""Complete Missing Joints on a real CMU capture, and Fill Track Gaps on clip tracks."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from ..rigs import humanoid_bones, mapping_for, walking_basis
from .lift_clips import pose2sim_case
from .rig_scenes import (
    CMU_FIRST, build_armature, delete_keys, ext, import_cmu, key_basis, one_frame_clip, run_on, world_joints,
)

ARM_AND_LEG = ["CC_Base_L_Upperarm", "CC_Base_L_Forearm", "CC_Base_R_Thigh", "CC_Base_R_Calf"]
HIDDEN = ("left_elbow", "left_wrist", "right_knee", "right_ankle", "right_toe")
GAP = (60, 120)  # one second of the walk at 60 fps


def _hidden_error(obj, truth, frames):
    skel = ext("engine.skeleton").get_skeleton("anim19")
    rows = (frames >= GAP[0]) & (frames <= GAP[1])
    got = world_joints(obj, frames[rows])
    cols = skel.indices(list(HIDDEN))
    return float(np.linalg.norm(got[:, cols] - truth[rows][:, cols], axis=-1).mean())


@pytest.fixture
def gapped_cmu(scene):
    """The CMU walk with the left arm's and right leg's keys deleted for a second, and
    the truth (world joints of the capture) and key snapshot from before."""
    obj = import_cmu()
    frames = np.arange(CMU_FIRST, CMU_FIRST + 150, dtype=float)
    truth = world_joints(obj, frames)
    delete_keys(obj, ARM_AND_LEG, *GAP)
    return obj, frames, truth, ext("action_io").keys_snapshot(obj)


def _keys_only_on_gap_frames(obj, before):
    """Every key from before is still there, bit-identical; new keys only on the deleted
    bones' rotation curves, only inside the gap."""
    after = ext("action_io").keys_snapshot(obj)
    assert after.keys() == before.keys()
    new = 0
    for key, old in before.items():
        now = after[key]
        kept = np.isin(now["co"][:, 0], old["co"][:, 0])
        for field in old:
            assert np.array_equal(now[field][kept], old[field]), f"{key} {field} changed"
        added = now["co"][~kept, 0]
        if len(added):
            assert any(f'"{b}"' in key[0] for b in ARM_AND_LEG) and key[0].endswith("rotation_euler"), key
            assert added.min() >= GAP[0] and added.max() <= GAP[1]
            new += len(added)
    return new


@pytest.mark.parametrize("method", ["INTERPOLATE", "MIRROR"])
def test_completion_keys_only_what_was_missing(gapped_cmu, method):
    obj, frames, truth, before = gapped_cmu
    result = run_on(obj, bpy.ops.mpm.complete_missing_joints, method=method, frame_start=CMU_FIRST, frame_end=int(frames[-1]))
    assert result == {"FINISHED"}
    assert _keys_only_on_gap_frames(obj, before) == len(ARM_AND_LEG) * 3 * (GAP[1] - GAP[0] + 1)
    # The filled limbs are the right size and near the truth (a walk: within a limb's swing).
    assert _hidden_error(obj, truth, frames) < 0.4


def test_model_completion_beats_the_non_learned_fills(gapped_cmu, shipped_model):
    obj, frames, truth, before = gapped_cmu
    errors = {}
    for method in ("AUTO", "MODEL", "INTERPOLATE", "MIRROR"):
        delete_keys(obj, ARM_AND_LEG, *GAP)
        assert run_on(obj, bpy.ops.mpm.complete_missing_joints, method=method,
                      frame_start=CMU_FIRST, frame_end=int(frames[-1])) == {"FINISHED"}
        errors[method] = _hidden_error(obj, truth, frames)
        if method in ("AUTO", "MODEL"):
            _keys_only_on_gap_frames(obj, before)
    print("mean error of the hidden joints (m):", errors)
    assert errors["MODEL"] < min(errors["INTERPOLATE"], errors["MIRROR"]), errors


def test_best_per_gap_takes_each_3d_gap_from_one_of_the_fills(scene, shipped_model):
    """The add-on's completion with method AUTO on the real CMU walk (world joints, 60 fps):
    a knee lost for 12 frames and an arm for 40; every filled joint comes from the model,
    interpolation or the mirror, not always the model."""
    obj = import_cmu()
    frames = np.arange(CMU_FIRST, CMU_FIRST + 300, dtype=float)
    truth = world_joints(obj, frames)
    skel = ext("engine.skeleton").get_skeleton("anim19")
    visible = np.isfinite(truth).all(-1)
    visible[100:112, skel.index("right_knee")] = False
    visible[180:220, skel.limb_indices("left_arm")] = False
    complete = ext("completion").complete_positions
    filled = {m: complete(bpy.context, m, truth, visible, skel, 60.0) for m in ("AUTO", "MODEL", "INTERPOLATE", "MIRROR")}
    assert np.array_equal(filled["AUTO"][visible], truth[visible])
    sources = []
    for gap in ext("engine.gap_choice").interior_gaps(visible):
        rows = slice(gap.start, gap.stop)
        same = [m for m in ("MODEL", "INTERPOLATE", "MIRROR") if np.allclose(filled["AUTO"][rows, gap.joint], filled[m][rows, gap.joint])]
        assert same, gap
        sources.append(same[0])
    print("gaps filled by:", sources)
    assert set(sources) != {"MODEL"}


def test_sparse_animator_keys_are_never_gaps(scene):
    rig = build_armature("Hero", humanoid_bones("mixamo"))
    ext("mapping_store").store_mapping(rig, ext("engine.rig_mapping").RigMapping.from_dict(mapping_for("mixamo").to_dict()))
    rest = ext("rig_io").rig_rest(rig)
    frames = np.array([1.0, 9.0, 20.0, 34.0, 50.0])  # an animator's poses
    key_basis(rig, walking_basis(rest, 5), frames, "Blocking")
    with pytest.raises(RuntimeError, match="nothing missing to complete"):
        run_on(rig, bpy.ops.mpm.complete_missing_joints, method="INTERPOLATE")
    # A bone with no keys at all is missing; only it gets keys.
    before = ext("action_io").keys_snapshot(rig)
    for fc in ext("action_io").action_fcurves(rig):
        if '"LeftForeArm"' in fc.data_path:
            ext("action_io").remove_fcurve(rig, fc)
    before = {k: v for k, v in before.items() if '"LeftForeArm"' not in k[0]}
    with pytest.raises(RuntimeError, match="interpolate cannot fill left_wrist"):
        run_on(rig, bpy.ops.mpm.complete_missing_joints, method="INTERPOLATE")  # never seen: nothing to interpolate
    assert run_on(rig, bpy.ops.mpm.complete_missing_joints, method="MIRROR") == {"FINISHED"}
    after = ext("action_io").keys_snapshot(rig)
    assert {k for k in after if k not in before} == {('pose.bones["LeftForeArm"].rotation_quaternion', i) for i in range(4)}
    assert all(np.array_equal(after[k]["co"], before[k]["co"]) for k in before)


def test_selected_bones_are_redone_over_the_range(gapped_cmu):
    obj, frames, _, before = gapped_cmu
    for pb in obj.pose.bones:
        setattr(pb if hasattr(pb, "select") else pb.bone, "select", pb.name == "CC_Base_L_Forearm")
    result = run_on(obj, bpy.ops.mpm.complete_missing_joints, method="INTERPOLATE", selected_bones=True,
                    frame_start=60, frame_end=120)
    assert result == {"FINISHED"}
    after = ext("action_io").keys_snapshot(obj)
    changed = {k for k in before if len(after[k]["co"]) != len(before[k]["co"])}
    assert changed == {('pose.bones["CC_Base_L_Forearm"].rotation_euler', i) for i in range(3)}


def test_completion_errors_say_what_is_wrong(gapped_cmu):
    obj, frames, _, _ = gapped_cmu
    empty = bpy.data.objects.new("Empty", None)
    bpy.context.scene.collection.objects.link(empty)
    with bpy.context.temp_override(active_object=empty, object=empty):
        assert not bpy.ops.mpm.complete_missing_joints.poll()
    stray = build_armature("Stray", [("a", None, (0, 0, 0), (0, 0, 1), 0.0)])
    with pytest.raises(RuntimeError, match="no rig mapping fits"):
        run_on(stray, bpy.ops.mpm.complete_missing_joints, frame_start=1, frame_end=10)
    with pytest.raises(RuntimeError, match="nothing missing to complete in frames 2-40"):
        run_on(obj, bpy.ops.mpm.complete_missing_joints, method="INTERPOLATE", frame_start=2, frame_end=40)
    with pytest.raises(RuntimeError, match="End must not be before Start"):
        run_on(obj, bpy.ops.mpm.complete_missing_joints, frame_start=40, frame_end=2)
    prefs = bpy.context.preferences.addons[ext("preferences").PACKAGE].preferences
    saved = prefs.model_path
    prefs.model_path = str(ext("mapping_store").user_preset_dir() / "not_a_model.pt")
    try:
        with pytest.raises(RuntimeError, match="model"):
            run_on(obj, bpy.ops.mpm.complete_missing_joints, method="MODEL")
    finally:
        prefs.model_path = saved


def _tracks_clip(tmp_path, frames=40):
    clip = one_frame_clip(tmp_path)
    tracks = clip.tracking.objects.active.tracks
    rng = np.random.default_rng(0)
    for j, name in enumerate(["left_wrist", "Left Elbow", "pelvis", "RightKnee"]):
        t = tracks.new(name=name, frame=1)
        for f in range(2, frames + 1):
            t.markers.insert_frame(f)
        co = np.stack([0.2 + 0.01 * np.arange(frames) + 0.1 * j, 0.5 + 0.02 * rng.normal(size=frames)], -1)
        t.markers.foreach_set("co", co.astype(np.float32).ravel())
    return clip, tracks


def test_fill_track_gaps_writes_companion_tracks(scene, tmp_path):
    clip, tracks = _tracks_clip(tmp_path)
    wrist = tracks["left_wrist"]
    mute = np.zeros(40, bool)
    mute[10:20] = True
    wrist.markers.foreach_set("mute", mute)
    tracks["RightKnee"].markers.delete_frame(30)
    before = {t.name: [(m.frame, tuple(m.co), m.mute) for m in t.markers] for t in tracks}
    assert bpy.ops.mpm.fill_track_gaps(method="INTERPOLATE") == {"FINISHED"}
    after = {t.name: [(m.frame, tuple(m.co), m.mute) for m in t.markers] for t in tracks if not t.name.endswith(".filled")}
    assert after == before  # tracked markers untouched
    filled = tracks["left_wrist.filled"]
    marks = {m.frame: m for m in filled.markers}
    assert sorted(f for f, m in marks.items() if not m.mute) == list(range(11, 21))
    assert marks[21].mute  # the filled stretch ends
    assert tuple(filled.color) == pytest.approx((1.0, 0.55, 0.0))
    assert [m.frame for m in tracks["RightKnee.filled"].markers if not m.mute] == [30]
    # Linear in time across the gap: the marker moved 0.01 per frame before it.
    assert marks[15].co[0] == pytest.approx(0.2 + 0.01 * 14, abs=1e-4)
    # Filling again replaces the companion tracks instead of adding more.
    assert bpy.ops.mpm.fill_track_gaps(method="INTERPOLATE") == {"FINISHED"}
    assert sum(t.name.endswith(".filled") for t in tracks) == 2


def test_fill_track_gaps_reads_tracks_named_by_alias(scene, tmp_path):
    clip, tracks = _tracks_clip(tmp_path)
    tracks["left_wrist"].name = "LWrist"  # OpenPose's name for left_wrist
    tracks["LWrist"].markers.delete_frame(12)
    assert bpy.ops.mpm.fill_track_gaps(method="INTERPOLATE") == {"FINISHED"}
    assert [m.frame for m in tracks["LWrist.filled"].markers if not m.mute] == [12]


def test_fill_track_gaps_errors(scene, tmp_path):
    clip, tracks = _tracks_clip(tmp_path)
    with pytest.raises(RuntimeError, match="nothing to fill"):
        bpy.ops.mpm.fill_track_gaps(method="INTERPOLATE")
    for t in list(tracks):
        t.name = "feature_" + t.name
    with pytest.raises(RuntimeError, match="no track named after a joint"):
        bpy.ops.mpm.fill_track_gaps(method="INTERPOLATE")
    bpy.context.scene.active_clip = None
    assert not bpy.ops.mpm.fill_track_gaps.poll()


def _companion_markers(tracks) -> dict[tuple[str, int], tuple[float, float]]:
    return {(t.name, m.frame): tuple(m.co) for t in tracks if t.name.endswith(".filled") for m in t.markers if not m.mute}


def test_fill_track_gaps_best_per_gap_takes_each_gap_from_the_model_or_the_line(scene, shipped_model):
    """Real detections (Pose2Sim, camera 1, 100 frames) with a wrist and a knee muted for
    15 frames each: every filled marker of "Best per Gap" is the model's or interpolation's."""
    case = pose2sim_case()
    tracks = case.clip.tracking.objects.active.tracks
    for name, frames in (("left_wrist", range(30, 45)), ("right_knee", range(60, 75))):
        for marker in tracks[name].markers:
            if marker.frame in frames:
                marker.mute = True
    filled = {}
    for method in ("MODEL", "INTERPOLATE", "AUTO"):
        assert bpy.ops.mpm.fill_track_gaps(method=method) == {"FINISHED"}
        filled[method] = _companion_markers(tracks)
    assert filled["AUTO"].keys() == filled["MODEL"].keys() == filled["INTERPOLATE"].keys()
    assert {("left_wrist.filled", f) for f in range(30, 45)} <= filled["AUTO"].keys()
    sources = {"MODEL": 0, "INTERPOLATE": 0}
    for key, co in filled["AUTO"].items():
        same = [m for m in sources if np.allclose(co, filled[m][key], atol=1e-5)]
        assert same, key
        sources[same[0]] += 1
    print("filled markers by source:", sources)
    assert sources["INTERPOLATE"] > 0 and filled["AUTO"] != filled["MODEL"]
