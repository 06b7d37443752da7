"""Data sources named in a training config, turned into pair sources for the trainer.

``motion``: anything ``training.data.read_motion`` reads (BVH / ASF-AMC files or folders)
or a cache written by ``python -m training.prepare`` (``.npz``), seen by virtual cameras.
``h36m`` / ``3dhp``: the paper's datasets in the community layouts (``paper_data``),
camera-space 3D with its real 2D. ``keypoints2d``: 2D-only keypoint files (masked 2D
modelling on one's own footage).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .pairs import CameraPairs, Keypoint2DPairs, MotionPairs, PairSource
from .run_config import DataSpec, TrainConfig


def load_clips(spec: DataSpec) -> list:
    """MotionClips of a ``motion`` source, filtered by its subjects."""
    from training.data import load_prepared, read_motion

    path = Path(spec.path)
    if path.suffix == ".npz":
        clips = load_prepared(path)
    else:
        clips = read_motion(path, mapping=spec.mapping)
    clips = select_subjects(clips, spec.subjects, spec.exclude_subjects, lambda c: c.subject)
    if not clips:
        raise ValueError(f"data source {spec.path}: no clips left after subjects={list(spec.subjects)} exclude_subjects={list(spec.exclude_subjects)}")
    return clips


def select_subjects(items: Sequence, subjects: Sequence[str], exclude: Sequence[str], subject_of) -> list:
    keep = [x for x in items if (not subjects or _same_subject(subject_of(x), subjects))]
    return [x for x in keep if not _same_subject(subject_of(x), exclude)]


def _same_subject(subject: str, names: Sequence[str]) -> bool:
    """Subject ids compare as numbers when both are numeric ("5" == "05")."""
    for name in names:
        if subject == name or (subject.isdigit() and name.isdigit() and int(subject) == int(name)):
            return True
    return False


def build_source(spec: DataSpec, cfg: TrainConfig, num_frames: int | None = None) -> PairSource:
    """The pair source of one data spec; ``num_frames`` overrides the window (1 for the
    single-frame baseline)."""
    model, augment = cfg.model, cfg.augment
    frames = num_frames or model.num_frames
    if spec.kind == "motion":
        return MotionPairs(load_clips(spec), model.skeleton, frames, model.fps, cfg.cameras, augment, spec.stride,
                           view_centring=model.view_centring)
    if spec.kind in ("h36m", "3dhp"):
        from .paper_data import load_paper_sequences

        if model.view_centring:
            raise ValueError(
                f"{spec.path}: [model] view_centring needs each window's camera intrinsics, which {spec.kind} "
                "sequences do not carry here; train on them with view_centring = false"
            )

        sequences = load_paper_sequences(spec, model.skeleton)
        return CameraPairs(sequences, model.skeleton, frames, model.fps, augment, spec.stride)
    if spec.kind == "keypoints2d":
        from .keypoint_tracks import load_tracks

        return Keypoint2DPairs(load_tracks(spec, model.skeleton), model.skeleton, frames, model.fps, augment, spec.stride)
    raise ValueError(f"unknown data kind {spec.kind!r}")


def check_disjoint_subjects(train: Sequence[PairSource], val: Sequence[PairSource]) -> None:
    """Refuse a split that has a subject on both sides."""
    train_subjects = set().union(*(s.subjects for s in train))
    val_subjects = sorted(set().union(*(s.subjects for s in val))) if val else []
    both = {s for s in train_subjects if _same_subject(s, val_subjects)}
    if both:
        raise ValueError(f"subjects {sorted(both)} are in both the training and the validation data; a subject belongs to one split")
