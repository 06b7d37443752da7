"""Build the training cache: every clip under the given folders in one npz.

    python -m training.prepare --data ../shared/data/cmu_iclone ../shared/data/cmu_s61 \\
        ../shared/data/cmu_asfamc --fps 30 --skeleton anim19 --out build/data/cmu.npz

The same CMU motion (subject and trial) read from two formats is kept once: from the
format named by ``--prefer`` (ASF/AMC by default: the original capture with each
person's own bone lengths; the BVH conversions share one retargeted skeleton).
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections import defaultdict
from pathlib import Path

from training.data.cmu import TABLE_NAME, cmu_ids
from training.data.motion import MotionClip
from training.data.prepared import save_prepared
from training.data.readers import read_motion

log = logging.getLogger("training.prepare")
FORMAT_OF_PREFERENCE = {"asf": "asf/amc", "bvh": "bvh"}
SAME_MOTION_DURATION_TOLERANCE = 0.05


def deduplicate(clips: list[MotionClip], prefer: str = "asf/amc") -> tuple[list[MotionClip], list[tuple[MotionClip, MotionClip]]]:
    """Drop clips whose CMU (subject, trial) was also read from another format.

    Two clips count as the same motion only when their durations agree within 5 %.
    Returns the kept clips and (dropped, kept instead) pairs.
    """
    groups: dict[tuple[int, int], list[MotionClip]] = defaultdict(list)
    for clip in clips:
        ids = cmu_ids(Path(clip.source).stem)
        if ids:
            groups[ids].append(clip)
    dropped: list[tuple[MotionClip, MotionClip]] = []
    drop_ids: set[int] = set()
    for group in groups.values():
        formats = {c.meta.get("format") for c in group}
        if len(group) < 2 or len(formats) < 2:
            continue
        keeper = min(group, key=lambda c: (c.meta.get("format") != prefer, c.source))
        for other in group:
            if other is keeper:
                continue
            if abs(other.duration - keeper.duration) > SAME_MOTION_DURATION_TOLERANCE * keeper.duration:
                log.warning("%s and %s share CMU ids but not their duration: keeping both", other.source, keeper.source)
                continue
            dropped.append((other, keeper))
            drop_ids.add(id(other))
    return [c for c in clips if id(c) not in drop_ids], dropped


def find_cmu_table(folders: list[Path]) -> Path | None:
    for folder in folders:
        for candidate in [folder / TABLE_NAME, *sorted(folder.rglob(TABLE_NAME))]:
            if candidate.is_file():
                return candidate
    return None


def summary(clips: list[MotionClip]) -> str:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in clips:
        per[c.subject][0] += 1
        per[c.subject][1] += c.num_frames
    rows = [f"subject {s}: {n} clips, {f} frames" for s, (n, f) in sorted(per.items())]
    total = sum(c.num_frames for c in clips)
    return "\n".join(rows + [f"total: {len(clips)} clips, {total} frames"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.prepare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", required=True, type=Path, help="files or folders readable by read_motion")
    ap.add_argument("--out", required=True, type=Path, help="output .npz")
    ap.add_argument("--fps", type=float, default=None, help="resample every clip to this rate (default: keep)")
    ap.add_argument("--skeleton", default="anim19")
    ap.add_argument("--mapping", default=None, help="rig mapping preset name or JSON file (default: auto-detect)")
    ap.add_argument("--prefer", choices=sorted(FORMAT_OF_PREFERENCE), default="asf",
                    help="format kept when a CMU motion is present twice (default: asf)")
    ap.add_argument("--cmu-table", type=Path, default=None,
                    help=f"{TABLE_NAME} for frame-rate checks and actions (default: the first under --data)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    table = args.cmu_table or find_cmu_table([d for d in args.data if d.is_dir()])
    clips: list[MotionClip] = []
    for item in args.data:
        clips += read_motion(item, mapping=args.mapping, fps=args.fps, skeleton=args.skeleton, cmu_table=table)
    clips, dropped = deduplicate(clips, FORMAT_OF_PREFERENCE[args.prefer])
    for other, keeper in dropped:
        log.info("duplicate CMU motion: dropped %s, kept %s", other.source, keeper.source)
    info = {
        "command": " ".join(["python -m training.prepare", *(argv if argv is not None else sys.argv[1:])]),
        "prefer": FORMAT_OF_PREFERENCE[args.prefer],
        "duplicates_dropped": [o.source for o, _ in dropped],
        "cmu_table": str(table) if table else None,
    }
    save_prepared(args.out, clips, info)
    print(summary(clips))
    print(f"dropped {len(dropped)} duplicate clips; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
