"""tools/gpu_session.sh, the one call a lent GPU machine runs: train, evaluate, and leave
the eight files that come back flat in $OUT. Run here on the CPU with the tiny config."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path


from engine.checkpoint import read_checkpoint

from .loop_fixtures import synthetic_cache, tiny_config  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parents[2]
FILES = {"summary.txt", "train.log", "metrics_stage1.jsonl", "metrics_stage2.jsonl", "curves_stage1.png",
         "curves_stage2.png", "model.pt", "report.json"}


def _session(tmp_path: Path, config: Path, cache: Path, minutes: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "RUN": str(tmp_path / "session_run"), "DATA": str(cache),
           "VAL_SUBJECTS": "09", "PYTHON": sys.executable, "TRAIN_MINUTES": minutes,
           "REAL2D": str(tmp_path / "no_session")}
    done = subprocess.run(["bash", "tools/gpu_session.sh", str(config)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    return done, out


def test_a_whole_run_comes_back_as_eight_files(tiny_config, synthetic_cache, tmp_path):  # noqa: F811
    done, out = _session(tmp_path, tiny_config, synthetic_cache, "7")
    assert done.returncode == 0, done.stderr[-2000:]
    assert {p.name for p in out.iterdir()} == FILES  # the device tool brings back 8 files at most
    summary = (out / "summary.txt").read_text()
    assert "training: exit 0" in summary and "stage2/final.pt" in summary and "lift_gt2d" in summary
    assert "MPJPE by joint" in summary  # the whole of the evaluation's printout, breakdowns included
    report = json.loads((out / "report.json").read_text())
    assert report["runtime"] == "fast" and report["subjects"] == ["09"]
    assert math.isfinite(report["protocols"]["lift_gt2d"]["all"]["mpjpe"])
    model = read_checkpoint(out / "model.pt")
    assert "optimizer" not in model and model["stage"] == "finetune"


def test_a_run_stopped_by_its_time_limit_still_has_its_last_checkpoint_evaluated(tiny_config, synthetic_cache, tmp_path):  # noqa: F811
    done, out = _session(tmp_path, tiny_config, synthetic_cache, "0.0001")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stage1/last.pt" in (out / "summary.txt").read_text()
    assert read_checkpoint(out / "model.pt")["stage"] == "pretrain"
    assert math.isfinite(json.loads((out / "report.json").read_text())["protocols"]["lift_gt2d"]["all"]["mpjpe"])


def test_without_a_config_it_says_how_to_call_it():
    done = subprocess.run(["bash", "tools/gpu_session.sh"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr
