"""tools/measure_release.sh: a candidate checkpoint measured as the model card reports it,
in the repository's layout, and compared with the shipped model. Run here on the tiny
network and synthetic motion (the real measurement takes 20 minutes)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from engine.checkpoint import read_checkpoint

from .loop_fixtures import synthetic_cache  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]
MODEL_FILES = {"mpm_base.pt", "mpm_base.report.json", "mpm_base.runtime_fast.report.json",
               "mpm_base.runtime_accurate.report.json", "mpm_base.lift_full.onnx", "mpm_base.lift_centre.onnx",
               "mpm_base.complete_3d.onnx", "mpm_base.complete_2d.onnx"}
BENCHMARKS = {"bench_view_centring_mpm_base.json", "bench_gap_filling_mpm_base.json",
              "bench_gap_filling_3d_mpm_base.json"}


def _measure(checkpoint: Path, out: Path, cache: Path, shipped: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATA": str(cache), "SUBJECTS": "09", "REAL2D": str(out / "no_session"),
           "BASELINE": str(REPO / "assets/baselines/mlp_cmu_not02.pt"), "SHIPPED": str(shipped),
           "PYTHON": sys.executable, "NOTE": "a tiny test network"}
    return subprocess.run(["bash", "tools/measure_release.sh", str(checkpoint), str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


def _mpjpe(report_path: Path, protocol: str = "lift_gt2d") -> float:
    return json.loads(report_path.read_text())["protocols"][protocol]["all"]["mpjpe"]


def test_a_candidate_is_measured_in_the_repositorys_layout_and_compared(tiny_checkpoint, synthetic_cache, tmp_path):  # noqa: F811
    first = tmp_path / "first"
    done = _measure(tiny_checkpoint, first, synthetic_cache, tmp_path / "nothing_shipped")
    assert done.returncode == 0, done.stderr[-3000:]
    models = first / "assets/models"
    assert {p.name for p in models.iterdir()} == MODEL_FILES
    assert {p.name for p in (first / "benchmarks/results").iterdir()} == BENCHMARKS
    released = read_checkpoint(models / "mpm_base.pt")
    assert "optimizer" not in released and released["meta"]["history"] == ["a tiny test network"]
    report = json.loads((models / "mpm_base.report.json").read_text())
    assert report["subjects"] == ["09"] and set(report["baselines"]) == {"mlp", "fill"}
    assert report["checkpoint"] == "assets/models/mpm_base.pt"  # named as released, not as measured
    assert math.isfinite(report["protocols"]["partial3d"]["right_leg"]["mpjpe_missing"])
    for mode in ("fast", "accurate"):
        runtime = json.loads((models / f"mpm_base.runtime_{mode}.report.json").read_text())
        assert runtime["runtime"] == mode and runtime["baseline_flip"] and "mlp" in runtime["baselines"]
    heads = {p.stem: _mpjpe(p) for p in (first / "heads").iterdir()}
    assert set(heads) == {"full", "full_flip", "centre", "centre_flip", "both", "both_flip"}
    assert heads["full"] == _mpjpe(models / "mpm_base.report.json")
    summary = (first / "summary.txt").read_text()
    assert f"full         {heads['full']:6.1f}" in summary and "candidate: lift_noisy2d MPM" in summary and "margin over mlp" in summary

    # Measured again against the first measurement as the shipped model: the runtime reports
    # reuse its flip-averaged MLP, and the summary sets the two side by side.
    second = tmp_path / "second"
    done = _measure(tiny_checkpoint, second, synthetic_cache, models)
    assert done.returncode == 0, done.stderr[-3000:]
    runtime = json.loads((second / "assets/models/mpm_base.runtime_fast.report.json").read_text())
    assert runtime["baselines_from"] == {"mlp": str(models / "mpm_base.runtime_fast.report.json")}
    summary = (second / "summary.txt").read_text()
    assert "shipped" in summary and "candidate" in summary


def test_a_failed_step_stops_it_and_names_its_log(tmp_path, synthetic_cache):  # noqa: F811
    done = _measure(tmp_path / "missing.pt", tmp_path / "out", synthetic_cache, tmp_path / "nothing_shipped")
    assert done.returncode != 0 and "release failed" in done.stderr and "logs/release.log" in done.stderr
    assert not (tmp_path / "out/summary.txt").exists()


def test_without_two_arguments_it_says_how_to_call_it():
    done = subprocess.run(["bash", "tools/measure_release.sh", "only_one"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr
