"""Motion data readers: every source becomes :class:`MotionClip` on a canonical skeleton
(3D), :class:`CameraSequence` (camera-space 3D with its 2D) or :class:`KeypointClip` (2D)."""
from .bvh import MotionFileError
from .h36m import read_h36m_npz
from .keypoints2d import read_keypoints_2d
from .motion import CameraSequence, KeypointClip, MotionClip, resample
from .mpi3dhp import read_3dhp_npz
from .positions import read_positions_csv, read_positions_npz, write_blender_motion
from .prepared import load_prepared, save_prepared
from .readers import read_motion

__all__ = [
    "CameraSequence", "KeypointClip", "MotionClip", "MotionFileError", "load_prepared", "read_3dhp_npz",
    "read_h36m_npz", "read_keypoints_2d", "read_motion", "read_positions_csv", "read_positions_npz", "resample",
    "save_prepared", "write_blender_motion",
]
