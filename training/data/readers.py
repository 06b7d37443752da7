"""``read_motion``: any supported motion file or folder -> canonical MotionClips."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from . import asfamc
from .bvh import MotionFileError, parse_bvh
from .cmu import check_frame_rate, cmu_ids, find_table, read_table
from .motion import MotionClip
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


READERS = {".bvh": read_bvh, ".amc": read_asf_amc}


def read_motion(
    path: str | os.PathLike, mapping: MappingArg = None, fps: float | None = None, skeleton: str = "anim19",
    cmu_table: str | os.PathLike | None = None,
) -> list[MotionClip]:
    """Every clip in a file or a folder (searched recursively), on ``skeleton``,
    resampled to ``fps`` when given. Unreadable files raise MotionFileError naming them.

    ``cmu_table``: a CMU_data.csv for clips with CMU names (frame-rate check, action);
    by default one beside the files is used.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in READERS and p.is_file())
        if not files:
            raise MotionFileError(f"{path}: no motion files ({', '.join(READERS)}) in this folder")
    elif path.is_file():
        if path.suffix.lower() not in READERS:
            raise MotionFileError(f"{path}: unknown motion file type {path.suffix!r}; readable: {', '.join(READERS)}")
        files = [path]
    else:
        raise MotionFileError(f"{path}: no such file or folder")
    table = Path(cmu_table) if cmu_table else None
    clips = [READERS[f.suffix.lower()](f, mapping=mapping, skeleton=skeleton, cmu_table=table) for f in files]
    return [c.resampled(fps) if fps else c for c in clips]
