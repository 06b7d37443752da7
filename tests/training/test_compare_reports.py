"""Comparing groups of evaluation reports (the ablation over seeds)."""
from __future__ import annotations

import json

import pytest

from training.compare_reports import main, summarise


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
