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


def _group(arg: str) -> tuple[str, list[Path]]:
    name, _, paths = arg.partition("=")
    if not name or not paths:
        raise argparse.ArgumentTypeError(f"{arg!r}: expected NAME=REPORT[,REPORT...]")
    return name, [Path(p) for p in paths.split(",") if p]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.compare_reports", description=__doc__.split("\n\n")[0])
    ap.add_argument("groups", nargs="+", type=_group, metavar="NAME=REPORT[,REPORT...]")
    ap.add_argument("--out", type=Path, default=None, help="write the summary as JSON")
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
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"groups": summary, "reports": {name: [str(p) for p in paths] for name, paths in args.groups}}
        args.out.write_text(json.dumps(payload, indent=1), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
