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
