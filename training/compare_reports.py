"""Compare groups of evaluation reports (e.g. an ablation over seeds): mean and standard
deviation of each protocol's numbers per group, as a table and a JSON file.

    python -m training.compare_reports \\
        with_stage1=runs/ablation/with_s0.json,runs/ablation/with_s1.json,runs/ablation/with_s2.json \\
        without_stage1=runs/ablation/scratch_s0.json,... --out ablation.json

Each report is what ``python -m training.evaluate`` writes; every report of a comparison
must cover the same protocols and cases (the MPM numbers, ``report["protocols"]``, are
compared; baselines are left out). Output layout::

    out["groups"][group][protocol][case][metric] = {"mean": ..., "std": ..., "values": [...]}
    out["reports"][group] = [paths]
    out["margins"][group][protocol][metric] = {"mpm": ..., "baseline": ..., "percent": ..., "ci95": [lo, hi]}   (--margin-over)
    out["breakdowns"][protocol][group][row] = mm   (--breakdown action|joint)

``--margin-over NAME`` adds how far MPM is ahead of the baseline NAME that the reports
carry (``report["baselines"][NAME]``), per group, on every protocol with a case ``all``
both have (the training issue asks for 15 % over the single-frame MLP on ``lift_gt2d`` and
``lift_noisy2d``): ``100 * (1 - mpm / baseline)`` of the group means, for MPJPE and, where
the reports have it, the Human3.6M 17 joints' MPJPE. Where the reports break MPJPE down by
clip (``mpjpe_per_clip``), the MPJPE margin also gets a 95 % confidence interval from a
paired bootstrap over the clips (the same clips resampled for MPM and the baseline, and for
every report of a group; 2,000 draws, seeded): how much the margin depends on which clips
happened to be evaluated.

``--breakdown action`` (or ``joint``) sets the groups side by side per action (per joint)
on ``lift_gt2d`` and ``lift_noisy2d``: each group's mean over its reports of the reports'
``mpjpe_per_action`` (``mpjpe_per_joint``), e.g. to see which motions pre-training helps.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# The numbers compared: lifting MPJPE for every protocol, and the missing joints' error
# for 3D completion (its observed joints are returned as given).
METRICS = ("mpjpe", "p_mpjpe", "mpjpe_missing")
# The numbers a margin over a baseline is given for.
MARGIN_METRICS = ("mpjpe", "mpjpe_h36m17")
BOOTSTRAP_DRAWS = 2000


def _cases(report: dict) -> list[tuple[str, str]]:
    """(protocol, case) pairs of a report's MPM numbers, in the evaluator's order."""
    return [(protocol, case) for protocol, cases in report["protocols"].items() for case in cases]


def summarise(groups: dict[str, list[dict]]) -> dict[str, dict]:
    """Mean, std (over reports, ddof 0) and the values of each metric, per group."""
    if any(not reports for reports in groups.values()):
        raise ValueError(f"groups without reports: {[g for g, reports in groups.items() if not reports]}")
    order = _cases(next(iter(groups.values()))[0])
    for group, reports in groups.items():
        if any(set(_cases(r)) != set(order) for r in reports):
            raise ValueError(f"group {group!r}: reports cover different protocols or cases; evaluate them alike")
    out: dict[str, dict] = {}
    for group, reports in groups.items():
        table: dict[str, dict] = {}
        for protocol, case in order:
            metrics = {}
            for metric in METRICS:
                values = [r["protocols"][protocol][case].get(metric) for r in reports]
                if any(v is None for v in values):
                    continue
                metrics[metric] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": [float(v) for v in values]}
            table.setdefault(protocol, {})[case] = metrics
        out[group] = table
    return out


def margins(groups: dict[str, list[dict]], baseline: str) -> dict[str, dict]:
    """{group: {protocol: {metric: {"mpm", "baseline", "percent"}}}}: MPM's lead over the
    baseline ``baseline`` in the group means, for each protocol's case ``all``."""
    out: dict[str, dict] = {}
    for group, reports in groups.items():
        if any(baseline not in r.get("baselines", {}) for r in reports):
            raise ValueError(f"group {group!r}: not every report has the baseline {baseline!r}")
        table: dict[str, dict] = {}
        for protocol in reports[0]["protocols"]:
            for metric in MARGIN_METRICS:
                pairs = [(r["protocols"][protocol].get("all", {}).get(metric),
                          r["baselines"][baseline].get(protocol, {}).get("all", {}).get(metric)) for r in reports]
                if any(a is None or b is None for a, b in pairs):
                    continue
                mpm, base = (float(np.mean(v)) for v in zip(*pairs))
                entry = {"mpm": mpm, "baseline": base, "percent": 100.0 * (1.0 - mpm / base)}
                if metric == "mpjpe":
                    clips = [(r["protocols"][protocol]["all"].get("mpjpe_per_clip"),
                              r["baselines"][baseline][protocol]["all"].get("mpjpe_per_clip")) for r in reports]
                    if all(a and b for a, b in clips):
                        entry["ci95"] = bootstrap_margin(clips)
                table.setdefault(protocol, {})[metric] = entry
        out[group] = table
    return out


def _clip_table(per_clip: dict[str, dict], names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(error sums, frame counts, action codes) of the clips ``names``, in that order."""
    actions = [str(per_clip[n]["action"]) for n in names]
    codes = np.unique(actions, return_inverse=True)[1]
    frames = np.array([per_clip[n]["frames"] for n in names], np.float64)
    return np.array([per_clip[n]["mpjpe"] for n in names], np.float64) * frames, frames, codes


def _action_averaged(sums: np.ndarray, frames: np.ndarray, codes: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """(D,) MPJPE of each resample ``draws`` (D, C) of clip indices: frame-weighted within an
    action, then the mean over the actions drawn (the evaluator's averaging)."""
    actions = codes.max() + 1
    total = np.zeros((len(draws), actions))
    count = np.zeros((len(draws), actions))
    rows = np.repeat(np.arange(len(draws)), draws.shape[1])
    np.add.at(total, (rows, codes[draws].ravel()), sums[draws].ravel())
    np.add.at(count, (rows, codes[draws].ravel()), frames[draws].ravel())
    with np.errstate(invalid="ignore"):
        return np.nanmean(total / np.where(count > 0, count, np.nan), axis=1)


def bootstrap_margin(clips: list[tuple[dict, dict]], draws: int = BOOTSTRAP_DRAWS, seed: int = 0) -> list[float]:
    """95 % interval of ``100 * (1 - mpm / baseline)`` over resamples of the clips, from each
    report's (MPM, baseline) ``mpjpe_per_clip``; the group's mean over reports per draw."""
    names = sorted(clips[0][0])
    if any(sorted(a) != names or sorted(b) != names for a, b in clips):
        raise ValueError("reports break MPJPE down by different clips; evaluate them alike")
    index = np.random.default_rng(seed).integers(len(names), size=(draws, len(names)))
    mpm = np.mean([_action_averaged(*_clip_table(a, names), index) for a, _ in clips], axis=0)
    base = np.mean([_action_averaged(*_clip_table(b, names), index) for _, b in clips], axis=0)
    lo, hi = np.percentile(100.0 * (1.0 - mpm / base), [2.5, 97.5])
    return [round(float(lo), 2), round(float(hi), 2)]


def format_margins(table: dict[str, dict], baseline: str) -> str:
    lines = []
    for group, protocols in table.items():
        for protocol, by_metric in protocols.items():
            for metric, m in by_metric.items():
                joints = " (Human3.6M 17 joints)" if metric == "mpjpe_h36m17" else ""
                ci = f" (95 % CI over clips {m['ci95'][0]:.1f} to {m['ci95'][1]:.1f} %)" if "ci95" in m else ""
                lines.append(f"{group}: {protocol}{joints} MPM {m['mpm']:.1f} mm, {baseline} {m['baseline']:.1f} mm, "
                             f"margin over {baseline} {m['percent']:.1f} %{ci}")
    return "\n".join(lines)


def format_table(summary: dict[str, dict]) -> str:
    """One row per protocol and case, one column per group: the mean ± std of MPJPE
    (``mpjpe_missing`` where there is one)."""
    groups = list(summary)
    first = summary[groups[0]]
    head = f"{'protocol':<14}{'case':<22}" + "".join(f"{g[:22]:>24}" for g in groups)
    lines = [head, "-" * len(head)]
    for protocol, cases in first.items():
        for case, metrics in cases.items():
            key = "mpjpe_missing" if "mpjpe_missing" in metrics else "mpjpe"
            cells = "".join(f"{summary[g][protocol][case][key]['mean']:>15.1f} ± {summary[g][protocol][case][key]['std']:<6.1f}" for g in groups)
            lines.append(f"{protocol:<14}{case:<22}{cells}")
    lines.append("MPJPE mm (mpjpe_missing for partial3d), mean ± std over each group's reports")
    return "\n".join(lines)


BREAKDOWN_PROTOCOLS = ("lift_gt2d", "lift_noisy2d")


def breakdowns(groups: dict[str, list[dict]], by: str) -> dict[str, dict]:
    """{protocol: {group: {row: mean mm over the group's reports}}} of the reports'
    ``mpjpe_per_<by>`` (case ``all``); a row some report lacks is left out of its group."""
    key = f"mpjpe_per_{by}"
    out: dict[str, dict] = {}
    for protocol in BREAKDOWN_PROTOCOLS:
        for group, reports in groups.items():
            tables = [r["protocols"].get(protocol, {}).get("all", {}).get(key) for r in reports]
            if not all(tables):
                continue
            rows = [row for row in tables[0] if all(row in t for t in tables)]
            out.setdefault(protocol, {})[group] = {row: float(np.mean([t[row] for t in tables])) for row in rows}
    return out


def format_breakdowns(table: dict[str, dict], by: str) -> str:
    lines = []
    for protocol, by_group in table.items():
        groups = list(by_group)
        rows = list(dict.fromkeys(row for values in by_group.values() for row in values))
        head = f"{protocol + ' by ' + by:<30}" + "".join(f"{g[:14]:>16}" for g in groups)
        lines += ["", head, "-" * len(head)]
        for row in rows:
            lines.append(f"{row[:29]:<30}" + "".join(f"{by_group[g][row]:>16.1f}" if row in by_group[g] else f"{'-':>16}" for g in groups))
    if lines:
        lines.append(f"MPJPE mm per {by}, mean over each group's reports")
    return "\n".join(lines)


def _group(arg: str) -> tuple[str, list[Path]]:
    name, _, paths = arg.partition("=")
    if not name or not paths:
        raise argparse.ArgumentTypeError(f"{arg!r}: expected NAME=REPORT[,REPORT...]")
    return name, [Path(p) for p in paths.split(",") if p]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.compare_reports", description=__doc__.split("\n\n")[0])
    ap.add_argument("groups", nargs="+", type=_group, metavar="NAME=REPORT[,REPORT...]")
    ap.add_argument("--out", type=Path, default=None, help="write the summary as JSON")
    ap.add_argument("--margin-over", default=None, metavar="BASELINE",
                    help="also print (and write) MPM's margin over this baseline of the reports, e.g. mlp")
    ap.add_argument("--breakdown", choices=("action", "joint"), default=None,
                    help="also set the groups side by side per action or per joint (lift_gt2d, lift_noisy2d)")
    args = ap.parse_args(argv)
    loaded = {}
    for name, paths in args.groups:
        reports = []
        for path in paths:
            try:
                reports.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                ap.error(f"cannot read report {path}: {exc}")
        loaded[name] = reports
    try:
        summary = summarise(loaded)
    except ValueError as exc:
        ap.error(str(exc))
    print(format_table(summary))
    payload = {"groups": summary, "reports": {name: [str(p) for p in paths] for name, paths in args.groups}}
    if args.margin_over:
        try:
            payload["margins"] = margins(loaded, args.margin_over)
        except ValueError as exc:
            ap.error(str(exc))
        print(format_margins(payload["margins"], args.margin_over))
    if args.breakdown:
        payload["breakdowns"] = breakdowns(loaded, args.breakdown)
        if not payload["breakdowns"]:
            ap.error(f"no group's reports all break MPJPE down by {args.breakdown} (evaluate them again)")
        print(format_breakdowns(payload["breakdowns"], args.breakdown))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=1), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
