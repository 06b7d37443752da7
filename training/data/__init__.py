"""Motion data readers: every source becomes :class:`MotionClip` on a canonical skeleton."""
from .bvh import MotionFileError
from .motion import MotionClip, resample
from .prepared import load_prepared, save_prepared
from .readers import read_motion

__all__ = ["MotionClip", "MotionFileError", "load_prepared", "read_motion", "resample", "save_prepared"]
