"""Import Keypoints: every supported file type becomes one Movie Clip track per joint."""
from __future__ import annotations

import bpy
import numpy as np
import pytest

from . import keypoint_files as kf
from .conftest import ext, report_errors

SIZE = (1280, 720)


def names_of(fmt: str) -> tuple[str, ...]:
    return ext("engine.keypoints").get_format(fmt).keypoints


def track_pixels(tracking_object, joint: str, size) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames, pixels (n, 2), muted) of the track named ``joint``."""
    markers = tracking_object.tracks[joint].markers
    n = len(markers)
    frames, co, mute = np.empty(n, np.int32), np.empty(2 * n, np.float32), np.empty(n, bool)
    markers.foreach_get("frame", frames)
    markers.foreach_get("co", co)
    markers.foreach_get("mute", mute)
    co = co.reshape(n, 2).astype(np.float64)
    return frames, np.stack([co[:, 0] * size[0], (1 - co[:, 1]) * size[1]], -1), mute


def import_file(**kwargs) -> tuple[bpy.types.MovieClip, object]:
    result = bpy.ops.mpm.import_keypoints(**kwargs)
    assert result == {"FINISHED"}
    clip = bpy.context.scene.active_clip
    return clip, clip.tracking.objects.active


def check_tracks(clip, tracking_object, source, walk, fmt, size, **read_kwargs):
    """The tracks hold the engine's anim19 conversion of the file, muted below 0.3 confidence,
    and the left knee sits exactly where the file put it."""
    keypoints = ext("engine.keypoints")
    anim19 = ext("engine.skeleton").get_skeleton("anim19").joints
    track = keypoints.read_keypoints(source, **read_kwargs)
    points, confidence = keypoints.to_skeleton(track, skeleton="anim19")
    expected_tracks = {j for i, j in enumerate(anim19) if np.isfinite(points[:, i]).any()}
    assert {t.name for t in tracking_object.tracks} == expected_tracks
    for i, joint in enumerate(anim19):
        if joint not in expected_tracks:
            continue
        frames, pixels, muted = track_pixels(tracking_object, joint, size)
        np.testing.assert_array_equal(frames, np.asarray(track.frames) + 1)  # file frame 0 -> clip frame 1
        seen = np.isfinite(points[:, i]).all(-1)
        np.testing.assert_allclose(pixels[seen], points[seen, i], atol=2e-3)
        np.testing.assert_array_equal(muted, ~seen | (confidence[:, i] < 0.3))
    names = names_of(fmt)
    _, knee, muted = track_pixels(tracking_object, "left_knee", size)
    np.testing.assert_allclose(knee, walk[:, names.index("left_knee"), :2], atol=2e-3)
    assert muted[::7].all() and not muted[1:7].any()


def test_coco_results_with_two_people_import_the_chosen_one(scene, tmp_path):
    names = names_of("coco17")
    big = kf.walking_person(names, 12, scale=1.4)
    small = kf.walking_person(names, 12, start=(1000.0, 450.0), scale=0.5, seed=1)
    path = kf.write_coco(tmp_path / "person_keypoints.json", [big, small])
    people = ext("engine.keypoints").list_people(path)
    assert len(people) == 2
    clip, obj = import_file(filepath=str(path), clip_target="NEW", width=SIZE[0], height=SIZE[1], fps=25)
    check_tracks(clip, obj, path, big, "coco17", SIZE)
    assert "right_toe" not in obj.tracks  # COCO-17 has no feet
    second = str(people[1].id)
    clip2, obj2 = import_file(filepath=str(path), person=second, clip_target="CURRENT")
    assert clip2 == clip and obj2.name.endswith(f"person {second}") and obj2 != obj
    check_tracks(clip2, obj2, path, small, "coco17", SIZE, person=people[1].id)


def test_mmpose_vitpose_json(scene, tmp_path):
    walk = kf.walking_person(names_of("coco17"), 9)
    path = kf.write_mmpose(tmp_path / "vitpose_video.json", walk)
    clip, obj = import_file(filepath=str(path), clip_target="NEW", width=SIZE[0], height=SIZE[1])
    check_tracks(clip, obj, path, walk, "coco17", SIZE)


def test_alphapose_halpe26_keeps_the_toes(scene, tmp_path):
    walk = kf.walking_person(names_of("halpe26"), 9)
    path = kf.write_alphapose(tmp_path / "alphapose-results.json", walk)
    clip, obj = import_file(filepath=str(path), clip_target="NEW", width=SIZE[0], height=SIZE[1])
    check_tracks(clip, obj, path, walk, "halpe26", SIZE)
    assert "left_toe" in obj.tracks and "right_toe" in obj.tracks


@pytest.mark.parametrize("fmt", ["body25", "body25b"])
def test_openpose_folder(scene, tmp_path, fmt):
    walk = kf.walking_person(names_of(fmt), 10)
    folder = kf.write_openpose_folder(tmp_path / f"{fmt}_json", walk)
    clip, obj = import_file(directory=str(folder), clip_target="NEW", width=SIZE[0], height=SIZE[1], fps=30)
    check_tracks(clip, obj, folder, walk, fmt, SIZE, format=fmt)
    assert obj.name == f"{fmt}_json" and clip.frame_duration == 10


def test_several_selected_openpose_files_read_their_folder(scene, tmp_path):
    walk = kf.walking_person(names_of("body25b"), 6)
    folder = kf.write_openpose_folder(tmp_path / "cam_json", walk)
    files = [{"name": p.name} for p in sorted(folder.iterdir())]
    clip, obj = import_file(directory=str(folder), files=files, filepath=str(folder / files[0]["name"]),
                            clip_target="NEW", width=SIZE[0], height=SIZE[1])
    assert len(obj.tracks["pelvis"].markers) == 6


def test_mediapipe_csv_normalised_onto_the_clip_size(scene, tmp_path):
    names = names_of("mediapipe33")
    walk = kf.walking_person(names, 8)
    path = kf.write_mediapipe_csv(tmp_path / "landmarks.csv", walk, names, SIZE)
    clip, obj = import_file(filepath=str(path), clip_target="NEW", width=SIZE[0], height=SIZE[1])
    check_tracks(clip, obj, path, walk, "mediapipe33", SIZE, image_size=SIZE)


def test_mediapipe_json_takes_size_and_rate_from_the_file(scene, tmp_path):
    walk = kf.walking_person(names_of("mediapipe33"), 8)
    path = kf.write_mediapipe_json(tmp_path / "pose.json", walk, SIZE, fps=50.0)
    clip, obj = import_file(filepath=str(path), clip_target="NEW", frame_start=20)
    assert tuple(clip.size) == SIZE and clip.frame_start == 20
    assert ext("clips").clip_fps(clip, bpy.context.scene) == 50.0
    check_tracks(clip, obj, path, walk, "mediapipe33", SIZE)


def test_normalised_file_without_a_size_asks_for_one(scene, tmp_path):
    names = names_of("mediapipe33")
    path = kf.write_mediapipe_csv(tmp_path / "landmarks.csv", kf.walking_person(names, 3), names, SIZE)
    message = report_errors(lambda: bpy.ops.mpm.import_keypoints(filepath=str(path), clip_target="NEW"))
    assert "normalised" in message and "set Width and Height" in message


def test_onto_the_current_clip_keeps_its_tracks(scene, tmp_path):
    names = names_of("coco17")
    path = kf.write_coco(tmp_path / "a.json", [kf.walking_person(names, 5)])
    clip, first = import_file(filepath=str(path), clip_target="NEW", width=SIZE[0], height=SIZE[1])
    user_track = clip.tracking.objects["Camera"].tracks.new(name="my_feature", frame=1)
    clip2, second = import_file(filepath=str(path), clip_target="CURRENT")
    assert clip2 == clip and second != first and len(first.tracks) == len(second.tracks)
    assert clip.tracking.objects["Camera"].tracks["my_feature"] == user_track


def test_empty_clip_survives_saving_and_reloading(scene, tmp_path):
    names = names_of("coco17")
    path = kf.write_coco(tmp_path / "walk.json", [kf.walking_person(names, 5)])
    clip, _ = import_file(filepath=str(path), clip_target="NEW", width=640, height=480, fps=24, frame_start=7)
    assert clip.use_fake_user
    blend = tmp_path / "saved.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    clip = bpy.data.movieclips["walk"]
    assert tuple(clip.size) == (640, 480) and clip.frame_start == 7 and clip.frame_duration == 5
    assert ext("clips").clip_fps(clip, bpy.context.scene) == 24.0
    assert len(clip.tracking.objects["walk"].tracks["left_knee"].markers) == 5


def test_unreadable_files_report_what_is_wrong(scene, tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text("{not json")
    message = report_errors(lambda: bpy.ops.mpm.import_keypoints(filepath=str(bad), clip_target="NEW"))
    assert "Cannot import" in message and "not valid JSON" in message
    missing = tmp_path / "nowhere.json"
    message = report_errors(lambda: bpy.ops.mpm.import_keypoints(filepath=str(missing)))
    assert "no such file" in message
    other = tmp_path / "table.csv"
    other.write_text("a,b\n1,2\n")
    assert "expected a CSV header" in report_errors(lambda: bpy.ops.mpm.import_keypoints(filepath=str(other)))


def test_drag_and_drop_handler_is_registered(extension):
    handler = bpy.types.MPM_FH_keypoints
    assert handler.bl_import_operator == "mpm.import_keypoints"
    assert set(handler.bl_file_extensions.split(";")) == {".json", ".csv"}
