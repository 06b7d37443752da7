"""Keypoint readers on files written here in each tool's own layout (formats.md section 3)."""
import json

import numpy as np
import pytest
from ._keypoint_people import person
from ..conftest import REPO

from engine.keypoints import (
    KeypointFileError,
    KeypointTrack,
    list_people,
    read_keypoints,
    to_skeleton,
    write_keypoints,
)


def flat(kp: np.ndarray) -> list:
    return [round(float(v), 3) for v in kp.reshape(-1)]


def walker(fmt: str, frames: int, start=(300.0, 600.0), step=(4.0, 0.0), scale=1.0) -> np.ndarray:
    """(F, K, 3): the synthetic person walking right."""
    return np.stack([person(fmt, offset=(start[0] + f * step[0], start[1] + f * step[1]), scale=scale) for f in range(frames)])


def assert_track_equals(track: KeypointTrack, expected: np.ndarray, rows=None):
    rows = range(len(expected)) if rows is None else rows
    for r in rows:
        present = expected[r, :, 2] > 0
        np.testing.assert_allclose(track.points[r][present], expected[r][present, :2], atol=1e-3)
        np.testing.assert_allclose(track.confidence[r], np.where(present, expected[r, :, 2], 0), atol=1e-6)
        assert np.isnan(track.points[r][~present]).all()


# --- OpenPose per-frame folders ----------------------------------------------------------

def openpose_frame(people: list, person_ids=None) -> dict:
    return {
        "version": 1.3,
        "people": [
            {
                "person_id": [-1 if person_ids is None else person_ids[i]],
                "pose_keypoints_2d": flat(kp),
                "face_keypoints_2d": [],
                "hand_left_keypoints_2d": [],
                "hand_right_keypoints_2d": [],
                "pose_keypoints_3d": [],
                "face_keypoints_3d": [],
                "hand_left_keypoints_3d": [],
                "hand_right_keypoints_3d": [],
            }
            for i, kp in enumerate(people)
        ],
    }


def test_openpose_body25_folder_with_gaps_empty_frames_and_stray_files(tmp_path):
    folder = tmp_path / "clip_json"
    folder.mkdir()
    walk = walker("body25", 10)
    for f in range(10):
        if f == 4:
            continue  # a missing file
        people = [] if f == 6 else [walk[f]]
        (folder / f"clip_{f + 100:012d}_keypoints.json").write_text(json.dumps(openpose_frame(people)))
    (folder / "camera_settings.json").write_text(json.dumps({"fps": 25}))  # not a frame: ignored
    track = read_keypoints(folder)
    assert track.format == "body25"
    np.testing.assert_array_equal(track.frames, np.arange(100, 110))
    assert track.points.shape == (10, 25, 2) and track.image_size is None and track.fps is None
    assert_track_equals(track, walk, rows=[0, 1, 2, 3, 5, 7, 8, 9])
    assert np.isnan(track.points[[4, 6]]).all() and (track.confidence[[4, 6]] == 0).all()
    assert len(track.people) == 1 and track.people[0].num_frames == 8


def test_openpose_body25b_detected_and_pose2sim_names_and_empty_people(tmp_path):
    folder = tmp_path / "cam01_json"
    folder.mkdir()
    walk = walker("body25b", 6)
    for f in range(6):
        frame = openpose_frame([walk[f]])
        frame["people"].append({})  # Pose2Sim's personAssociation writes {} for a missing person
        (folder / f"cam01_{f:06d}.json").write_text(json.dumps(frame))
    track = read_keypoints(folder, image_size=(1088, 1920), fps=60)
    assert track.format == "body25b" and track.image_size == (1088, 1920) and track.fps == 60.0
    assert_track_equals(track, walk)


def test_body25_and_body25b_told_apart_and_overridden(tmp_path):
    for fmt in ("body25", "body25b"):
        path = tmp_path / f"{fmt}_000000000000_keypoints.json"
        path.write_text(json.dumps(openpose_frame([person(fmt)])))
        assert read_keypoints(path).format == fmt
    with pytest.raises(KeypointFileError, match="people have 25 keypoints, but format 'coco17' has 17"):
        read_keypoints(path, format="coco17")


@pytest.mark.parametrize("fmt", ["coco17", "halpe26", "mediapipe33", "coco18", "halpe136"])
def test_openpose_layout_holding_other_models(tmp_path, fmt):
    """Pose2Sim stores RTMLib (COCO-17, HALPE_26) and BlazePose output in OpenPose JSON."""
    path = tmp_path / "frame_7.json"
    path.write_text(json.dumps(openpose_frame([person(fmt)])))
    track = read_keypoints(path)
    assert track.format == fmt and track.frames.tolist() == [7]


# --- COCO-style results and AlphaPose -------------------------------------------------------

def two_walkers(fmt: str, frames: int):
    big = walker(fmt, frames, start=(300.0, 600.0), scale=1.5)
    small = walker(fmt, frames, start=(900.0, 500.0), step=(-3.0, 0.0), scale=0.6)
    return big, small


def test_coco_results_grouped_by_image_and_tracked_through_shuffled_order(tmp_path):
    big, small = two_walkers("coco17", 20)
    entries = []
    for f in range(20):
        pair = [("big", big[f]), ("small", small[f])]
        if f % 3 == 1:
            pair.reverse()  # detection order changes from frame to frame
        for _, kp in pair:
            entries.append({"image_id": 1000 + f, "category_id": 1, "keypoints": flat(kp), "score": 0.9})
    path = tmp_path / "keypoints_results.json"
    path.write_text(json.dumps(entries))
    people = list_people(path)
    assert len(people) == 2 and all(p.num_frames == 20 for p in people)
    assert people[0].mean_size > people[1].mean_size
    default = read_keypoints(path)
    assert default.format == "coco17" and default.person == people[0].id
    np.testing.assert_array_equal(default.frames, np.arange(1000, 1020))
    assert_track_equals(default, big)
    assert_track_equals(read_keypoints(path, person=people[1].id), small)
    with pytest.raises(KeyError, match="no person 7; people found: person"):
        read_keypoints(path, person=7)


def test_alphapose_results_with_poseflow_track_ids(tmp_path):
    big, small = two_walkers("halpe26", 8)
    entries = []
    for f in range(8):
        for idx, kp in ((5, small[f]), (2, big[f])):
            if idx == 5 and f >= 6:
                continue  # the small person leaves
            entries.append({"image_id": f"{f}.jpg", "category_id": 1, "keypoints": flat(kp), "score": 2.7,
                            "box": [0, 0, 10, 10], "idx": idx})
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(entries))
    track = read_keypoints(path)
    assert track.format == "halpe26" and track.person == 2
    assert {p.id: p.num_frames for p in track.people} == {2: 8, 5: 6}
    assert_track_equals(track, big)
    small_track = read_keypoints(path, person=5)
    assert_track_equals(small_track, small, rows=range(6))
    assert np.isnan(small_track.points[6:]).all()
    joints, conf = to_skeleton(track)  # Halpe toes survive the conversion
    assert np.isfinite(joints[:, 17:]).all() and (conf[:, 17:] > 0).all()


def test_alphapose_without_tracking_repeats_idx_so_identities_are_tracked_here(tmp_path):
    big, small = two_walkers("coco17", 6)
    entries = []
    for f in range(6):
        order = [small[f], big[f]] if f % 2 else [big[f], small[f]]
        entries += [{"image_id": f"frame_{f:04d}.png", "keypoints": flat(kp), "score": 1.0, "idx": [0.0]} for kp in order]
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(entries))
    assert len(list_people(path)) == 2
    assert_track_equals(read_keypoints(path), big)


# --- MMPose ---------------------------------------------------------------------------------

def mmpose1_instance(kp: np.ndarray, nested_bbox=False, track_id=None) -> dict:
    box = [float(kp[:, 0].min()), float(kp[:, 1].min()), float(kp[:, 0].max()), float(kp[:, 1].max())]
    inst = {
        "keypoints": kp[:, :2].round(3).tolist(),
        "keypoint_scores": kp[:, 2].round(4).tolist(),
        "bbox": [box] if nested_bbox else box,
        "bbox_score": 0.98,
    }
    if track_id is not None:
        inst["track_id"] = track_id
    return inst


def test_mmpose0_single_image_and_per_frame_lists(tmp_path):
    kp = person("coco17")
    one = tmp_path / "vitpose.json"
    one.write_text(json.dumps([{"bbox": [1, 2, 3, 4, 0.9], "keypoints": kp.round(3).tolist()}]))
    track = read_keypoints(one)
    assert track.format == "coco17" and track.frames.tolist() == [0]
    assert_track_equals(track, kp[None])
    walk = walker("coco17", 4)
    many = tmp_path / "vitpose_video.json"
    many.write_text(json.dumps([[{"bbox": [1, 2, 3, 4], "keypoints": k.round(3).tolist()}] for k in walk]))
    assert_track_equals(read_keypoints(many), walk)


def test_mmpose1_instances_of_one_image_with_nested_bbox(tmp_path):
    kp = person("coco_wholebody133")
    path = tmp_path / "image.json"
    path.write_text(json.dumps([mmpose1_instance(kp, nested_bbox=True)]))
    track = read_keypoints(path)
    assert track.format == "coco_wholebody133"
    assert_track_equals(track, kp[None])


def test_mmpose1_inferencer_video_with_track_ids(tmp_path):
    big, small = two_walkers("coco17", 5)
    records = [{"frame_id": f, "instances": [mmpose1_instance(small[f], track_id=3), mmpose1_instance(big[f], track_id=8)]}
               for f in range(5)]
    path = tmp_path / "video.json"
    path.write_text(json.dumps(records))
    track = read_keypoints(path)
    assert track.frames.tolist() == [0, 1, 2, 3, 4] and track.person == 8
    assert_track_equals(track, big)


def test_mmpose_demo_results_with_meta_info(tmp_path):
    walk = walker("halpe26", 4)
    doc = {"meta_info": {"dataset_name": "halpe"},
           "instance_info": [{"frame_id": f + 1, "instances": [mmpose1_instance(walk[f])]} for f in range(4)]}
    path = tmp_path / "results_video.json"
    path.write_text(json.dumps(doc))
    track = read_keypoints(path)
    assert track.format == "halpe26" and track.frames.tolist() == [1, 2, 3, 4]  # the demo counts from 1
    assert_track_equals(track, walk)
    image = tmp_path / "results_image.json"
    image.write_text(json.dumps({"meta_info": {}, "instance_info": [mmpose1_instance(walk[0])]}))
    assert_track_equals(read_keypoints(image), walk[:1])


def test_folder_of_mmpose_per_image_files(tmp_path):
    walk = walker("coco17", 3)
    for f in range(3):
        (tmp_path / f"img_{f:03d}.json").write_text(json.dumps([mmpose1_instance(walk[f])]))
    assert_track_equals(read_keypoints(tmp_path), walk)


# --- MediaPipe ------------------------------------------------------------------------------


def mediapipe_frames(frames: int, size=(1280, 720)):
    """Pixels (F, 33, 3) and the same normalised (x / w, y / h) with visibility."""
    walk = walker("mediapipe33", frames, start=(600.0, 400.0), scale=0.8)
    walk[:, 7, 2] = 0.0  # left ear not visible
    normalised = walk.copy()
    normalised[..., 0] /= size[0]
    normalised[..., 1] /= size[1]
    return walk, normalised


def test_mediapipe_csv_normalised_needs_image_size(tmp_path):
    from engine.keypoints import get_format

    names = get_format("mediapipe33").keypoints
    pixels, norm = mediapipe_frames(5)
    header = ["frame"] + [f"{n}_{c}" for n in names for c in ("x", "y", "z", "visibility")]
    rows = [[str(f + 10)] + [f"{v:.7f}" for i in range(33) for v in (*norm[f, i, :2], -0.1, norm[f, i, 2])]
            for f in range(5)]
    path = tmp_path / "landmarks.csv"
    path.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    with pytest.raises(KeypointFileError, match=r"normalised .* pass image_size=\(width, height\)"):
        read_keypoints(path)
    track = read_keypoints(path, image_size=(1280, 720))
    assert track.format == "mediapipe33" and track.frames.tolist() == [10, 11, 12, 13, 14]
    assert track.image_size == (1280, 720)
    pixels[:, 7] = 0.0  # visibility 0 = absent
    assert_track_equals(track, pixels)
    joints, conf = to_skeleton(track)
    np.testing.assert_allclose(joints[:, 17], pixels[:, 32, :2], atol=1e-2)  # right toe = right_foot_index


def test_freemocap_style_csv_header_in_pixels_without_visibility(tmp_path):
    from engine.keypoints import get_format

    names = get_format("mediapipe33").keypoints
    pixels, _ = mediapipe_frames(3)
    header = "# " + ", ".join(f"{n.upper()}_{c}" for n in names for c in ("x", "y", "z"))
    rows = [", ".join(f"{v:.4f}" for i in range(33) for v in (*pixels[f, i, :2], 0.0)) for f in range(3)]
    path = tmp_path / "mediapipe_body_trajectories.csv"
    path.write_text("\n".join([header] + rows))
    track = read_keypoints(path)
    assert track.frames.tolist() == [0, 1, 2] and np.isfinite(track.points).all()
    assert (track.confidence == 1).all()  # no visibility column: every finite point counts
    np.testing.assert_allclose(track.points, pixels[..., :2], atol=1e-3)


def test_mediapipe_json_layouts(tmp_path):
    pixels, norm = mediapipe_frames(4)
    as_dicts = [[{"x": float(x), "y": float(y), "z": 0.0, "visibility": float(v)} for x, y, v in frame] for frame in norm]
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(as_dicts))
    pixels_absent = pixels.copy()
    pixels_absent[:, 7] = 0
    assert_track_equals(read_keypoints(plain, image_size=(1280, 720)), pixels_absent)

    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({
        "image_size": [1280, 720], "fps": 30,
        "frames": [{"frame": f * 2, "pose_landmarks": {"landmark": lm}} for f, lm in enumerate(as_dicts)],
    }))
    track = read_keypoints(wrapped)
    assert track.image_size == (1280, 720) and track.fps == 30.0
    assert track.frames.tolist() == [0, 1, 2, 3, 4, 5, 6]  # numbered 0, 2, 4, 6: gaps filled
    assert_track_equals(track, pixels_absent[[0]])
    assert np.isnan(track.points[1]).all()

    lists = tmp_path / "lists.json"  # several people per frame, landmarks as [x, y, z, visibility]
    other = norm.copy()
    other[..., 0] += 0.4
    lists.write_text(json.dumps([{"landmarks": [a[:, [0, 1, 2, 2]].tolist(), b[:, [0, 1, 2, 2]].tolist()]}
                                 for a, b in zip(norm, other)]))
    assert len(list_people(lists, image_size=(1280, 720))) == 2


# --- our exchange file ------------------------------------------------------------------------

def test_exchange_file_round_trip(tmp_path):
    walk = walker("body25b", 5)
    folder = tmp_path / "cam"
    folder.mkdir()
    for f in range(5):
        (folder / f"cam.{f:04d}.json").write_text(json.dumps(openpose_frame([walk[f]])))
    track = read_keypoints(folder, image_size=(1088, 1920), fps=60)
    track.points[2, 3] = np.nan
    track.confidence[2, 3] = 0
    path = write_keypoints(tmp_path / "clip.mpm-keypoints.json", track)
    back = read_keypoints(path)
    assert back.format == "body25b" and back.image_size == (1088, 1920) and back.fps == 60.0
    np.testing.assert_array_equal(back.frames, track.frames)
    np.testing.assert_allclose(back.points, track.points, atol=1e-3)
    np.testing.assert_allclose(back.confidence, track.confidence, atol=1e-4)
    assert back.person == track.person


def test_exchange_file_with_two_people(tmp_path):
    big, small = two_walkers("coco17", 4)
    entries = [{"image_id": f, "keypoints": flat(kp), "score": 1} for f in range(4) for kp in (big[f], small[f])]
    source = tmp_path / "results.json"
    source.write_text(json.dumps(entries))
    tracks = [read_keypoints(source, person=p.id) for p in list_people(source)]
    path = write_keypoints(tmp_path / "both.json", tracks)
    assert [p.id for p in list_people(path)] == [t.person for t in tracks]
    assert_track_equals(read_keypoints(path, person=tracks[1].person), small)


# --- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, content, message",
    [
        ("broken.json", '{"people": [', "not valid JSON"),
        ("empty.json", "[]", "holds no detections"),
        ("other.json", '{"hello": 1}', r"unrecognised JSON object with keys \['hello'\]; expected COCO-style"),
        ("numbers.json", "[1, 2, 3]", "unrecognised list of int"),
        ("odd.json", '[{"image_id": 1, "keypoints": [1, 2, 3, 4]}]', r"expected keypoints as \[x, y, confidence\]"),
        ("twenty.json", json.dumps([{"image_id": 1, "keypoints": [5.0] * 60}]), "20 keypoints per person match no known format"),
        ("zeros.json", json.dumps([{"image_id": 1, "keypoints": [0.0] * 51}]), "no person with any detected keypoint"),
        ("pose.txt", "nose 1 2", "unsupported file type '.txt'"),
        ("bad.csv", "a,b\n1,2\n", "expected a CSV header with <name>_x and <name>_y"),
        ("words.csv", "nose_x,nose_y\nfoo,bar\n", "match no known format"),
        ("exchange.json", '{"format": "mpm-keypoints", "version": 9}', "version 9; this reader knows version 1"),
    ],
)
def test_malformed_or_unknown_files_are_refused_by_name(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(KeypointFileError, match=message) as err:
        read_keypoints(path)
    assert str(path) in str(err.value)


def test_mixed_keypoint_counts_and_bad_frames_in_a_folder(tmp_path):
    (tmp_path / "a_000000000000_keypoints.json").write_text(json.dumps(openpose_frame([person("body25")])))
    (tmp_path / "a_000000000001_keypoints.json").write_text(json.dumps(openpose_frame([person("coco17")])))
    with pytest.raises(KeypointFileError, match="frame 1 has a person with 17 keypoints, others have 25"):
        read_keypoints(tmp_path)
    (tmp_path / "a_000000000001_keypoints.json").write_text('{"version": 1.3}')
    with pytest.raises(KeypointFileError, match=r"a_000000000001_keypoints.json: expected an OpenPose frame"):
        read_keypoints(tmp_path)


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(KeypointFileError, match="no such file or folder"):
        read_keypoints(tmp_path / "nope.json")
    with pytest.raises(KeypointFileError, match="no .json files; expected a folder of OpenPose per-frame JSON"):
        read_keypoints(tmp_path)


def test_ambiguous_25_keypoints_ask_for_the_format(tmp_path):
    kp = np.zeros((25, 3))
    kp[0] = (100, 100, 0.9)  # a lone nose: no bone to judge the order by
    path = tmp_path / "x_000000000000_keypoints.json"
    path.write_text(json.dumps(openpose_frame([kp])))
    with pytest.raises(KeypointFileError, match="could be body25 or body25b .* pass format="):
        read_keypoints(path)
    assert read_keypoints(path, format="BODY_25").format == "body25"


def test_bad_arguments_are_named(tmp_path):
    path = tmp_path / "frame_000000000000_keypoints.json"
    path.write_text(json.dumps(openpose_frame([person("body25b")])))
    with pytest.raises(ValueError, match=r"image_size should be \(width, height\) in pixels, got \(1920,\)"):
        read_keypoints(path, image_size=(1920,))
    with pytest.raises(ValueError, match="fps should be a positive frame rate, got 0"):
        read_keypoints(path, fps=0)
    track = read_keypoints(path)
    with pytest.raises(TypeError, match="pass skeleton='h36m17'"):
        to_skeleton(track, "h36m17")
    with pytest.raises(ValueError, match="track is 'body25b' but format='coco17' was given"):
        to_skeleton(track, "coco17")
    points, conf = to_skeleton(track, skeleton="h36m17")
    assert points.shape == (1, 17, 2) and conf.shape == (1, 17)


def test_keypoints_package_needs_neither_torch_nor_bpy():
    import subprocess
    import sys

    code = "import sys, engine.keypoints; print(sorted(m for m in ('torch', 'bpy', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
