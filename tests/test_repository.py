"""Repository hygiene: licence, manifest, and where binaries may live."""
from __future__ import annotations

import subprocess
import tomllib

from .blender_env import REPO

BINARY_SUFFIXES = {".onnx", ".pt", ".pth", ".npz", ".npy", ".bin", ".zip", ".whl", ".blend", ".h5"}
MAX_BINARY_BYTES = 30 * 1024 * 1024


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [f for f in out.stdout.decode().split("\0") if f]


def test_licence_is_gpl3_or_later_everywhere():
    assert "GNU GENERAL PUBLIC LICENSE" in (REPO / "LICENSE").read_text() and "Version 3" in (REPO / "LICENSE").read_text()
    manifest = tomllib.loads((REPO / "blender_manifest.toml").read_text())
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert manifest["id"] == "mpm_pose" and manifest["blender_version_min"] == "4.2.0"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "GPL-3.0-or-later"


def test_binaries_only_under_assets_small_and_described():
    files = tracked_files()
    binaries = [f for f in files if any(f.endswith(s) for s in BINARY_SUFFIXES)]
    outside = [f for f in binaries if not f.startswith("assets/")]
    assert not outside, f"binary files outside assets/: {outside}"
    too_big = [f for f in binaries if (REPO / f).stat().st_size > MAX_BINARY_BYTES]
    assert not too_big, f"binary files over 30 MB: {too_big}"
    notes = " ".join((REPO / f).read_text(errors="ignore") for f in files if f.startswith("assets/") and f.endswith(".md"))
    undocumented = [f for f in binaries if f.rsplit("/", 1)[-1].split(".")[0] not in notes]
    assert not undocumented, f"assets without a note of how they were made: {undocumented}"


def test_no_data_sets_or_run_outputs_committed():
    files = tracked_files()
    assert not [f for f in files if f.startswith(("build/", "dist/", "runs/", ".venv"))]
    assert not [f for f in files if f.endswith((".bvh", ".amc", ".asf", ".trc")) and not f.startswith("assets/samples/")]
