"""Keypoint reading on real OpenPose BODY_25B output: the bundled sample and the Pose2Sim
demo session in ../shared/data (person selection and identity tracking checked against
Pose2Sim's own person association, ``pose-associated/``)."""
import json
from pathlib import Path

import numpy as np
import pytest
from ..conftest import REPO, require_shared_data

from engine.keypoints import list_people, read_keypoints, to_skeleton

SAMPLE = REPO / "assets" / "samples" / "pose2sim_balancing_cam01"
SESSION = ("pose2sim_demo", "S00_Demo_Session")
BALANCING = (*SESSION, "S00_P00_SingleParticipant", "S00_P00_T01_BalancingTrial")
TWO_PEOPLE = (*SESSION, "S00_P01_MultiParticipants", "S00_P01_T02_Participants1-2")


def associated_slots(folder: Path) -> list[dict[int, np.ndarray]]:
    """Pose2Sim's association, read with plain json: per slot, frame -> (25, 3)."""
    slots: list[dict[int, np.ndarray]] = []
    for frame, path in enumerate(sorted(folder.glob("*.json"))):
        for slot, p in enumerate(json.loads(path.read_text())["people"]):
            while len(slots) <= slot:
                slots.append({})
            kp = np.asarray(p.get("pose_keypoints_2d", []), dtype=float).reshape(-1, 3)
            if len(kp) and (kp[:, 2] > 0).any():
                slots[slot][frame] = kp
    return slots


def agreement(track, slot: dict[int, np.ndarray]) -> float:
    """Share of the slot's frames where the track holds that detection's keypoints."""
    same = 0
    for frame, kp in slot.items():
        present = kp[:, 2] > 0
        row = track.points[frame]
        same += bool(np.isfinite(row[present]).all() and np.allclose(row[present], kp[present, :2], atol=1e-3))
    return same / len(slot)


def test_bundled_sample_reads_as_body25b_and_picks_the_participant():
    track = read_keypoints(SAMPLE, image_size=(1088, 1920), fps=60)
    assert track.format == "body25b" and track.points.shape == (100, 25, 2)
    np.testing.assert_array_equal(track.frames, np.arange(100))
    assert track.image_size == (1088, 1920) and track.fps == 60.0
    people = list_people(SAMPLE)
    assert len(people) == 2 and people[0].id == track.person  # the participant and a bystander
    assert people[0].num_frames == 100 and people[0].mean_size > 1.5 * people[1].mean_size
    joints, conf = to_skeleton(track, skeleton="anim19")
    body = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 14]  # pelvis, legs, spine, thorax, shoulders
    assert np.isfinite(joints[:, body]).all() and (conf[:, body] > 0.2).all()
    # Upright person: head above thorax above pelvis above ankles in every frame (y down).
    y = joints[..., 1]
    assert (y[:, 10] < y[:, 8]).all() and (y[:, 8] < y[:, 0]).all() and (y[:, 0] < y[:, 3]).all()


def test_detection_split_in_two_is_merged_back():
    """OpenPose split the participant into an upper (12 keypoints) and a lower (14) part
    in frame 37 of the sample, both holding the right wrist; the track holds all 25
    keypoints, the wrist from the more confident part."""
    frame = json.loads((SAMPLE / "cam01.0037.json").read_text())["people"]
    parts = {int((kp[:, 2] > 0).sum()): kp for kp in (np.reshape(p["pose_keypoints_2d"], (25, 3)) for p in frame)}
    assert sorted(parts) == [12, 14, 22]  # upper part, lower part, bystander
    upper, lower = parts[12], parts[14]
    wrist = 10
    assert upper[wrist, 2] > 0.5 > 0.1 > lower[wrist, 2] > 0
    track = read_keypoints(SAMPLE)
    assert np.isfinite(track.points[37]).all()
    for part in (upper, lower):
        present = part[:, 2] > 0
        present[wrist] = False
        np.testing.assert_allclose(track.points[37][present], part[present, :2], atol=1e-3)
    np.testing.assert_allclose(track.points[37][wrist], upper[wrist, :2], atol=1e-3)
    assert track.confidence[37, wrist] == pytest.approx(upper[wrist, 2], rel=1e-5)


def test_sample_is_the_real_detections_and_default_pick_matches_pose2sim_association():
    trial = require_shared_data(*BALANCING)
    for sample_file in sorted(SAMPLE.glob("*.json")):
        assert sample_file.read_bytes() == (trial / "pose" / "cam01_json" / sample_file.name).read_bytes()
    for cam in ("cam01", "cam02", "cam03", "cam04"):
        (slot,) = associated_slots(trial / "pose-associated" / f"{cam}_json")
        track = read_keypoints(trial / "pose" / f"{cam}_json")
        assert agreement(track, slot) == 1.0, cam


@pytest.mark.parametrize("cam", ["cam01", "cam02", "cam03", "cam04"])
def test_two_participants_tracked_like_pose2sim_associates_them(cam):
    trial = require_shared_data(*TWO_PEOPLE)
    slots = associated_slots(trial / "pose-associated" / f"{cam}_json")
    assert len(slots) == 2
    raw = trial / "pose" / f"{cam}_json"  # every detection, in an order that changes between frames
    people = list_people(raw)
    tracks = {p.id: read_keypoints(raw, person=p.id) for p in people}
    matched = []
    for slot in slots:
        best = max(tracks, key=lambda pid: agreement(tracks[pid], slot))
        assert agreement(tracks[best], slot) == 1.0, (cam, best, [p.label() for p in people])
        matched.append(best)
    assert len(set(matched)) == 2
    # The default pick is the participant who is largest over the trial (slot 1 here).
    assert read_keypoints(raw).person == matched[1]


def test_every_pose2sim_folder_is_detected_as_body25b():
    session = require_shared_data(*SESSION)
    folders = sorted(session.glob("*/*/pose/cam*_json"))
    assert len(folders) == 20
    for folder in folders:
        track = read_keypoints(folder)
        assert track.format == "body25b", folder
        assert len(track.frames) == len(list(folder.glob("*.json"))), folder
