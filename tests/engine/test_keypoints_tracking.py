"""Identity tracking on synthetic detections: crossings, gaps, split and duplicate detections."""
import numpy as np
from ._keypoint_people import person

from engine.keypoints.detections import make_detection
from engine.keypoints.tracking import MAX_GAP_FRAMES, track_people


def det(kp, track_id=None):
    return make_detection(kp[:, :2], kp[:, 2], track_id)


def by_position(tracked, frame):
    """{track id: x of the pelvis region} for a frame (keypoint 11 = left hip in COCO)."""
    return {t: float(d.points[11, 0]) for t, d in tracked[frame].items()}


def test_people_crossing_keep_their_ids():
    frames = {}
    for f in range(30):
        a = person("coco17", offset=(200 + 20 * f, 600), scale=1.2)  # walks right
        b = person("coco17", offset=(800 - 20 * f, 560), scale=0.9)  # walks left, crosses a at f = 15
        order = [a, b] if f % 2 else [b, a]
        frames[f] = [det(k) for k in order]
    tracked = track_people(frames)
    ids = sorted(tracked[0])
    assert len({t for people in tracked.values() for t in people}) == 2
    walker_right = min(ids, key=lambda t: by_position(tracked, 0)[t])
    for f in range(30):
        assert by_position(tracked, f)[walker_right] == np.float64(200 + 20 * f + 1.2 * 22), f


def test_short_gap_keeps_the_id_and_long_gap_starts_a_new_track():
    frames = {f: [det(person("coco17", offset=(300 + 2 * f, 600)))] for f in range(10)}
    frames.update({f: [] for f in range(10, 15)})  # out of view for 5 frames
    frames.update({f: [det(person("coco17", offset=(300 + 2 * f, 600)))] for f in range(15, 20)})
    tracked = track_people(frames)
    assert {t for people in tracked.values() for t in people} == {0}
    late = 20 + MAX_GAP_FRAMES + 1
    frames[late] = [det(person("coco17", offset=(300 + 2 * 19, 600)))]
    assert set(track_people(frames)[late]) == {1}


def test_split_and_duplicate_detections_join_their_person():
    full = person("body25b")
    upper, lower = full.copy(), full.copy()
    upper[11:, 2] = 0  # hips and below gone
    lower[:11, 2] = 0
    lower[10] = (full[10, 0] + 90, full[10, 1] + 200, 0.05)  # a stray low-confidence wrist
    frames = {0: [det(full)], 1: [det(lower), det(upper)], 2: [det(full), det(full * [1, 1, 0.5])]}
    tracked = track_people(frames)
    assert [len(tracked[f]) for f in range(3)] == [1, 1, 1]
    merged = tracked[1][0]
    np.testing.assert_allclose(merged.points, full[:, :2])  # the wrist from the confident upper part
    np.testing.assert_allclose(tracked[2][0].confidence, full[:, 2])


def test_file_track_ids_are_used_unless_they_repeat_in_a_frame():
    a, b = person("coco17", offset=(200, 600)), person("coco17", offset=(700, 600))
    with_ids = {0: [det(a, 7), det(b, 3)], 1: [det(b, 3), det(a, 7)]}
    tracked = track_people(with_ids)
    assert by_position(tracked, 1) == by_position(tracked, 0) and set(tracked[0]) == {3, 7}
    repeated = {0: [det(a, 0), det(b, 0)], 1: [det(b, 0), det(a, 0)]}
    tracked = track_people(repeated)
    assert set(tracked[0]) == {0, 1} and by_position(tracked, 1) == by_position(tracked, 0)
