"""Comparing groups of evaluation reports (the ablation over seeds)."""
from __future__ import annotations

import json

import pytest

from training.compare_reports import main, margins, summarise


def _report(lift: float, missing: float) -> dict:
    return {
        "protocols": {
            "lift_gt2d": {"all": {"mpjpe": lift, "p_mpjpe": lift * 0.7, "pck150": 90.0}},
            "partial3d": {"left_arm": {"mpjpe": 20.0, "p_mpjpe": 30.0, "mpjpe_missing": missing}},
        },
        "baselines": {"mlp": {"lift_gt2d": {"all": {"mpjpe": 999.0}}}},
    }


def test_mean_and_std_per_group_and_case():
    summary = summarise({"with": [_report(80.0, 150.0), _report(84.0, 154.0)], "without": [_report(100.0, 170.0)]})
    lift = summary["with"]["lift_gt2d"]["all"]["mpjpe"]
    assert lift["mean"] == pytest.approx(82.0) and lift["std"] == pytest.approx(2.0) and lift["values"] == [80.0, 84.0]
    assert summary["with"]["partial3d"]["left_arm"]["mpjpe_missing"]["mean"] == pytest.approx(152.0)
    assert summary["without"]["lift_gt2d"]["all"]["mpjpe"]["std"] == 0.0
    assert "pck150" not in summary["with"]["lift_gt2d"]["all"]  # only the compared metrics


def test_reports_of_different_protocols_are_refused():
    other = _report(80.0, 150.0)
    del other["protocols"]["partial3d"]
    with pytest.raises(ValueError, match="different protocols"):
        summarise({"with": [_report(80.0, 150.0)], "without": [other]})
    with pytest.raises(ValueError, match="different protocols"):
        summarise({"with": [_report(80.0, 150.0), other]})


def test_command_line_writes_table_and_json(tmp_path, capsys):
    paths = []
    for i, lift in enumerate((80.0, 90.0, 100.0)):
        path = tmp_path / f"r{i}.json"
        path.write_text(json.dumps(_report(lift, 150.0 + i)))
        paths.append(str(path))
    out = tmp_path / "ablation.json"
    assert main([f"a={paths[0]},{paths[1]}", f"b={paths[2]}", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "85.0 ± 5.0" in table and "100.0 ± 0.0" in table and "(missing" not in table
    written = json.loads(out.read_text())
    assert written["reports"]["a"] == paths[:2]
    assert written["groups"]["b"]["partial3d"]["left_arm"]["mpjpe_missing"]["mean"] == 152.0
    with pytest.raises(SystemExit):
        main(["a=" + str(tmp_path / "missing.json")])


def test_margin_over_a_baseline_from_the_group_means(tmp_path, capsys):
    a, b = _report(80.0, 150.0), _report(90.0, 150.0)
    for r in a, b:
        r["baselines"]["mlp"]["lift_gt2d"]["all"]["mpjpe"] = 100.0
    a["protocols"]["lift_gt2d"]["all"]["mpjpe_h36m17"] = 72.0
    a["baselines"]["mlp"]["lift_gt2d"]["all"]["mpjpe_h36m17"] = 90.0
    table = margins({"g": [a, b]}, "mlp")["g"]
    assert table["lift_gt2d"]["mpjpe"] == pytest.approx({"mpm": 85.0, "baseline": 100.0, "percent": 15.0})
    assert "mpjpe_h36m17" not in table["lift_gt2d"]  # not in every report
    assert set(table) == {"lift_gt2d"}  # partial3d has no case "all"
    assert margins({"g": [a]}, "mlp")["g"]["lift_gt2d"]["mpjpe_h36m17"]["percent"] == pytest.approx(20.0)
    with pytest.raises(ValueError, match="baseline 'fill'"):
        margins({"g": [a]}, "fill")
    path = tmp_path / "a.json"
    path.write_text(json.dumps(a))
    out = tmp_path / "m.json"
    assert main([f"cand={path}", "--margin-over", "mlp", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cand: lift_gt2d MPM 80.0 mm, mlp 100.0 mm, margin over mlp 20.0 %" in printed
    assert "cand: lift_gt2d (Human3.6M 17 joints) MPM 72.0 mm, mlp 90.0 mm, margin over mlp 20.0 %" in printed
    assert json.loads(out.read_text())["margins"]["cand"]["lift_gt2d"]["mpjpe"]["percent"] == pytest.approx(20.0)


def _clips(errors: dict[str, tuple[float, int, str]]) -> dict[str, dict]:
    return {clip: {"mpjpe": e, "frames": n, "action": a} for clip, (e, n, a) in errors.items()}


def test_bootstrap_interval_of_the_margin_over_clips(tmp_path, capsys):
    import numpy as np

    from training.compare_reports import _action_averaged, _clip_table, bootstrap_margin

    mpm = _clips({"s/walk1": (30.0, 100, "walk"), "s/walk2": (50.0, 300, "walk"), "s/box": (80.0, 200, "box")})
    # the evaluator's averaging: frame-weighted within an action (walk 45), then over actions
    names = sorted(mpm)
    assert _action_averaged(*_clip_table(mpm, names), np.arange(3)[None]) == pytest.approx([62.5])
    # a baseline exactly 20 % worse on every clip: every resample gives the same margin
    base = {k: dict(v, mpjpe=v["mpjpe"] / 0.8) for k, v in mpm.items()}
    assert bootstrap_margin([(mpm, base)]) == pytest.approx([20.0, 20.0])
    # MPM ahead on one clip only (by half): the interval spans what resampling the clips can
    # give, from none of it drawn (0 %) to only it (50 %)
    mixed = {k: dict(v, mpjpe=v["mpjpe"] * (2.0 if k == "s/box" else 1.0)) for k, v in mpm.items()}
    lo, hi = bootstrap_margin([(mpm, mixed)])
    assert -1e-9 <= lo < hi <= 50.0 + 1e-9 and hi - lo > 10.0
    with pytest.raises(ValueError, match="different clips"):
        bootstrap_margin([(mpm, base), ({"s/walk1": mpm["s/walk1"]}, base)])
    report = _report(62.5, 150.0)
    report["protocols"]["lift_gt2d"]["all"]["mpjpe_per_clip"] = mpm
    report["baselines"]["mlp"]["lift_gt2d"]["all"].update(mpjpe=62.5 / 0.8, mpjpe_per_clip=base)
    table = margins({"g": [report]}, "mlp")["g"]["lift_gt2d"]["mpjpe"]
    assert table["percent"] == pytest.approx(20.0) and table["ci95"] == pytest.approx([20.0, 20.0])
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    assert main([f"cand={path}", "--margin-over", "mlp"]) == 0
    assert "margin over mlp 20.0 % (95 % CI over clips 20.0 to 20.0 %)" in capsys.readouterr().out


def test_breakdown_by_action_sets_groups_side_by_side(tmp_path, capsys):
    from training.compare_reports import breakdowns

    def report(walk: float, box: float) -> dict:
        r = _report(50.0, 150.0)
        r["protocols"]["lift_gt2d"]["all"]["mpjpe_per_action"] = {"walk": walk, "box": box}
        return r

    with_s1, without = [report(30.0, 60.0), report(34.0, 62.0)], [report(40.0, 61.0)]
    without[0]["protocols"]["lift_gt2d"]["all"]["mpjpe_per_action"]["run"] = 70.0  # only this group has it
    table = breakdowns({"with": with_s1, "without": without}, "action")
    assert table == {"lift_gt2d": {"with": {"walk": 32.0, "box": 61.0}, "without": {"walk": 40.0, "box": 61.0, "run": 70.0}}}
    paths = []
    for name, reports in (("with", with_s1), ("without", without)):
        for i, r in enumerate(reports):
            paths.append((name, tmp_path / f"{name}{i}.json"))
            paths[-1][1].write_text(json.dumps(r))
    groups = [f"{g}={','.join(str(p) for n, p in paths if n == g)}" for g in ("with", "without")]
    out = tmp_path / "b.json"
    assert main([*groups, "--breakdown", "action", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split() for line in printed if line.startswith(("walk", "run"))] == [["walk", "32.0", "40.0"], ["run", "-", "70.0"]]
    assert json.loads(out.read_text())["breakdowns"]["lift_gt2d"]["with"]["box"] == 61.0
    with pytest.raises(SystemExit):  # the reports carry no per-joint breakdown
        main([*groups, "--breakdown", "joint"])
