"""2D keypoint files and formats: read detector output, pick a person, convert to the
canonical skeletons (bpy-free, numpy only).

    track = read_keypoints("video_json/")          # OpenPose folder, COCO/AlphaPose/MMPose JSON, MediaPipe CSV/JSON
    list_people("video_json/")                     # who is in it (most prominent first)
    points, confidence = to_skeleton(track, skeleton="anim19")
"""
from .detections import KeypointFileError
from .exchange import write_keypoints
from .formats import FORMATS, KeypointFormat, format_names, get_format, to_skeleton
from .reader import list_people, read_keypoints
from .track import KeypointTrack, PersonInfo

__all__ = [
    "FORMATS",
    "KeypointFileError",
    "KeypointFormat",
    "KeypointTrack",
    "PersonInfo",
    "format_names",
    "get_format",
    "list_people",
    "read_keypoints",
    "to_skeleton",
    "write_keypoints",
]
