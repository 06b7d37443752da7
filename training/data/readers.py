"""``read_motion``: any supported motion file or folder -> canonical MotionClips."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from . import asfamc
from .bvh import MotionFileError, parse_bvh
from .cmu import TABLE_NAME, check_frame_rate, cmu_ids, find_table, read_table
from .h36m import is_h36m_npz, read_h36m_npz
from .motion import MotionClip
from .mpi3dhp import is_3dhp_npz, read_3dhp_npz
from .pose2sim import read_pose2sim_trc
from .positions import is_positions_npz, read_positions_csv, read_positions_npz
from .prepared import load_prepared
from .rigs import MappingArg, clip_from_rig, file_ids, resolve_mapping

log = logging.getLogger(__name__)


def read_bvh(
    path: str | os.PathLike, mapping: MappingArg = None, skeleton: str = "anim19", cmu_table: Path | None = None,
    **options,
) -> MotionClip:
    """One BVH file -> a clip (units guessed, Y-up converted, T-pose frame dropped)."""
    path = Path(path)
    data = parse_bvh(path)
    heads, tails = data.forward_kinematics()
    fitted = resolve_mapping(mapping, data.names, str(path))
    subject, clip = file_ids(path)
    fps, action, notes = _cmu_check(path, data.num_frames, data.fps, cmu_table)
    out = clip_from_rig(
        data.names, heads, tails, fps=fps, mapping=fitted, source=str(path), subject=subject, clip=clip,
        skeleton=skeleton, action=action, **options,
    )
    out.meta.update(notes, format="bvh")
    return out


def read_asf_amc(
    amc_path: str | os.PathLike, asf_path: str | os.PathLike | None = None, mapping: MappingArg = None,
    skeleton: str = "anim19", fps: float = 120.0, cmu_table: Path | None = None, **options,
) -> MotionClip:
    """One AMC motion with its ASF skeleton (found beside it when not given) -> a clip.

    AMC files carry no frame rate; CMU's are 120 fps.
    """
    amc_path = Path(amc_path)
    asf_path = Path(asf_path) if asf_path else find_asf(amc_path)
    skel = asfamc.read_asf(asf_path)
    names, heads, tails = asfamc.forward_kinematics(skel, asfamc.read_amc(amc_path))
    fitted = resolve_mapping(mapping, names, str(amc_path))
    subject, clip = file_ids(amc_path)
    fps, action, notes = _cmu_check(amc_path, heads.shape[0], fps, cmu_table)
    out = clip_from_rig(
        names, heads, tails, fps=fps, mapping=fitted, source=str(amc_path), subject=subject, clip=clip,
        metres_per_unit=1.0, file_up="Y", skeleton=skeleton, action=action, **options,
    )
    out.meta.update(notes, format="asf/amc", asf=str(asf_path))
    return out


def find_asf(amc_path: Path) -> Path:
    """The ASF beside an AMC: <subject>.asf, else the only .asf in the folder."""
    ids = cmu_ids(amc_path.stem)
    candidates = []
    if ids:
        candidates = [amc_path.with_name(f"{ids[0]:02d}.asf"), amc_path.with_name(f"{ids[0]}.asf")]
    candidates += [amc_path.with_name(amc_path.stem.split("_")[0] + ".asf")]
    for c in candidates:
        if c.is_file():
            return c
    found = sorted(amc_path.parent.glob("*.asf"))
    if len(found) == 1:
        return found[0]
    raise MotionFileError(
        f"{amc_path}: cannot find its ASF skeleton ({'several' if found else 'no'} .asf files in {amc_path.parent}); "
        "pass asf_path"
    )


def _cmu_check(path: Path, num_frames: int, fps: float, table: Path | None) -> tuple[float, str | None, dict]:
    """Frame-rate check and motion description from CMU_data.csv (given, or found beside
    the file) when the clip is in it."""
    ids, table = cmu_ids(path.stem), table or find_table(path)
    if not ids or table is None:
        return fps, None, {}
    entry = read_table(table).get(ids)
    if entry is None:
        return fps, None, {}
    checked, note = check_frame_rate(entry, num_frames, fps)
    if note:
        log.warning("%s: %s", path, note)
    return checked, entry.description or None, {"cmu_check": note or "ok"}


MOTION_SUFFIXES = (".bvh", ".amc", ".npz", ".csv", ".trc")


def npz_keys(path: Path) -> set[str]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return set(z.files)
    except (OSError, ValueError, EOFError) as exc:
        raise MotionFileError(f"cannot read npz file {path}: {exc}") from None


def read_npz_motion(path: Path, skeleton: str = "anim19") -> list[MotionClip]:
    """Any npz layout with 3D motion, recognised by its keys."""
    keys = npz_keys(path)
    if "format" in keys and "offsets" in keys:
        clips = load_prepared(path)
        if clips and clips[0].skeleton != skeleton:
            clips = [c.on_skeleton(skeleton) for c in clips]
        return clips
    if is_h36m_npz(keys):
        return read_h36m_npz(path, skeleton=skeleton)
    if is_3dhp_npz(keys):
        return [seq.to_motion_clip() for seq in read_3dhp_npz(path, skeleton=skeleton)]
    if is_positions_npz(keys):
        return [read_positions_npz(path, skeleton=skeleton)]
    raise MotionFileError(
        f"{path}: unknown npz layout (keys: {', '.join(sorted(keys))}); readable: prepared cache, "
        "VideoPose3D Human3.6M (positions_3d), MPI-INF-3DHP (data), joint positions (positions + joints)"
    )


def _read_file(path: Path, mapping: MappingArg, skeleton: str, table: Path | None) -> list[MotionClip]:
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        return [read_bvh(path, mapping=mapping, skeleton=skeleton, cmu_table=table)]
    if suffix == ".amc":
        return [read_asf_amc(path, mapping=mapping, skeleton=skeleton, cmu_table=table)]
    if suffix == ".npz":
        return read_npz_motion(path, skeleton)
    if suffix == ".trc":
        return [read_pose2sim_trc(path, skeleton)]
    return [read_positions_csv(path, skeleton=skeleton)]


def read_motion(
    path: str | os.PathLike, mapping: MappingArg = None, fps: float | None = None, skeleton: str = "anim19",
    cmu_table: str | os.PathLike | None = None,
) -> list[MotionClip]:
    """Every clip in a file or a folder (searched recursively), on ``skeleton``,
    resampled to ``fps`` when given. Unreadable files raise MotionFileError naming them.

    Reads BVH (any rig with a mapping), CMU ASF/AMC, npz (the prepared cache, VideoPose3D
    Human3.6M, MPI-INF-3DHP seen from the default front view, joint positions, Blender
    actions from ``train_bridge.py``), joint-position CSV and Pose2Sim TRC.

    ``cmu_table``: a CMU_data.csv for clips with CMU names (frame-rate check, action);
    by default one beside the files is used.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.suffix.lower() in MOTION_SUFFIXES and p.is_file() and p.name != TABLE_NAME
        )
        if not files:
            raise MotionFileError(f"{path}: no motion files ({', '.join(MOTION_SUFFIXES)}) in this folder")
    elif path.is_file():
        if path.suffix.lower() not in MOTION_SUFFIXES:
            raise MotionFileError(
                f"{path}: unknown motion file type {path.suffix!r}; readable: {', '.join(MOTION_SUFFIXES)}"
            )
        files = [path]
    else:
        raise MotionFileError(f"{path}: no such file or folder")
    table = Path(cmu_table) if cmu_table else None
    clips = [clip for f in files for clip in _read_file(f, mapping, skeleton, table)]
    return [c.resampled(fps) if fps else c for c in clips]
