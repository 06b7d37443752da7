#!/usr/bin/env python3
"""Build the installable Blender extension zip(s) into dist/.

    python build.py                        # every platform, the shipped model
    python build.py --platform linux-x64   # one platform (what the tests use)
    python build.py --model path/to/stem   # bundle another ONNX model set

The extension is staged as one folder (the add-on package at its root, the engine as
its ``engine`` subpackage, ``assets/``, the wheels) and packed by Blender's own
extension tool (``blender_ext.py build``, found in an installed ``bpy`` wheel), which
validates the manifest and writes one zip per platform. Wheels are downloaded once with
pip into build/wheels/; the extension itself never runs pip or touches the network.
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent
STAGE = REPO / "build" / "extension"
WHEEL_CACHE = REPO / "build" / "wheels"

# Blender 4.2-5.0 run Python 3.11; Blender 5.1+ runs 3.13.
PYTHONS = ("3.11", "3.13")
# Blender platform name -> pip platform tags to ask for (the newest first).
PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": ["macosx_14_0_arm64", "macosx_11_0_arm64"],
}
# Wheel platform tags that run there (pip may answer with an older or universal wheel).
PLATFORM_TAG_PATTERNS = {
    "linux-x64": r"(many|musl)?linux\w*_x86_64",
    "windows-x64": r"win_amd64",
    "macos-arm64": r"macosx_\d+_\d+_(arm64|universal2)",
}
# ONNX Runtime and everything it imports that Blender does not ship (Blender has numpy).
PLATFORM_WHEELS = ["onnxruntime==1.32.0", "protobuf==7.36.2"]
PURE_WHEELS = ["flatbuffers==25.12.19", "packaging==26.3"]
# Files of the repository that go into the extension, relative to the stage root.
COPIES = {"mpm_addon": ".", "engine": "engine", "assets/mappings": "assets/mappings", "LICENSE": "LICENSE"}
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pt", ".pytest_cache")


def pip_download(requirement: str, dest: Path, platform_tags: list[str] | None, python: str | None) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    if platform_tags:
        cmd += [arg for tag in platform_tags for arg in ("--platform", tag)]
        cmd += ["--python-version", python, "--implementation", "cp"]
    cmd.append(requirement)
    subprocess.run(cmd, check=True)


def wheel_fits(wheel: Path, requirement: str, platform: str | None, python: str | None) -> bool:
    """Whether ``wheel`` is ``requirement``'s, for ``platform`` and ``python`` (None: pure Python)."""
    name, version = requirement.split("==")
    parts = wheel.name[: -len(".whl")].split("-")
    if len(parts) < 5 or parts[0].lower().replace("_", "-") != name.lower() or parts[1] != version:
        return False
    python_tag, abi_tag, platform_tag = parts[-3:]
    if platform is None:
        return platform_tag == "any"
    abi = "cp" + python.replace(".", "")
    if abi_tag != abi and not (abi_tag == "abi3" and int(python_tag.removeprefix("cp") or 0) <= int(abi[2:])):
        return False
    return any(re.fullmatch(PLATFORM_TAG_PATTERNS[platform], tag) for tag in platform_tag.split("."))


def fetch_wheels(platforms: list[str]) -> list[Path]:
    """Download (once) the wheels the extension bundles for ``platforms``."""
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []

    def cached(requirement: str, platform: str | None, python: str | None) -> list[Path]:
        return sorted(w for w in WHEEL_CACHE.glob("*.whl") if wheel_fits(w, requirement, platform, python))

    for requirement in PURE_WHEELS:
        if not cached(requirement, None, None):
            pip_download(requirement, WHEEL_CACHE, None, None)
        wheels += cached(requirement, None, None)[:1]
    for platform in platforms:
        for python in PYTHONS:
            for requirement in PLATFORM_WHEELS:
                if not cached(requirement, platform, python):
                    pip_download(requirement, WHEEL_CACHE, PLATFORMS[platform], python)
                found = cached(requirement, platform, python)
                if not found:
                    raise SystemExit(f"no {requirement} wheel for {platform} / Python {python}")
                wheels += found[:1]
    return sorted(set(wheels))


def find_blender_ext() -> Path:
    """Blender's extension tool from an installed bpy wheel: this Python's, else the
    newest in the project's virtual environments (tools/setup.sh makes them)."""
    roots = []
    spec = importlib.util.find_spec("bpy")  # locate only: importing bpy starts Blender
    if spec and spec.origin:
        roots.append(Path(spec.origin).parent)
    roots += [Path(p) for p in glob.glob(str(REPO / ".venv-bpy*/lib/python3*/site-packages/bpy"))]
    tools = [t for root in roots for t in root.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py")]
    if not tools:
        raise SystemExit(
            "Blender's extension tool (blender_ext.py) was not found: install the bpy wheel "
            "(bash tools/setup.sh makes .venv-bpy50) or run this with a Python that has bpy."
        )
    # Prefer this Python's bpy, then the newest Blender version.
    return max(tools, key=lambda t: (t.is_relative_to(roots[0]) if spec else False, _version(t.parents[4].name)))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


def write_manifest(dest: Path, wheels: list[Path], platforms: list[str]) -> None:
    """The repository manifest plus the bundled wheels and platforms."""
    text = (REPO / "blender_manifest.toml").read_text(encoding="utf-8")
    tomllib.loads(text)  # fail early on a broken manifest
    wheel_lines = "".join(f'  "./wheels/{w.name}",\n' for w in wheels)
    plat_list = ", ".join(f'"{p}"' for p in platforms)
    generated = f"# Added by build.py\nplatforms = [{plat_list}]\nwheels = [\n{wheel_lines}]\n\n"
    # Top-level keys must come before the first [table].
    first_table = text.index("\n[") + 1
    text = text[:first_table] + generated + text[first_table:]
    (dest / "blender_manifest.toml").write_text(text, encoding="utf-8")


def manifest_id() -> str:
    with open(REPO / "blender_manifest.toml", "rb") as f:
        return tomllib.load(f)["id"]


def stage(platforms: list[str], model: Path | None) -> Path:
    if STAGE.exists():
        shutil.rmtree(STAGE)
    STAGE.mkdir(parents=True)
    for src, dst in COPIES.items():
        source, target = REPO / src, STAGE / dst
        if source.is_dir():
            shutil.copytree(source, target, ignore=IGNORE, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, target)
        else:  # e.g. no presets yet: the folder still exists in the extension
            target.mkdir(parents=True, exist_ok=True)
    models = STAGE / "assets" / "models"
    models.mkdir(parents=True, exist_ok=True)
    if model is not None:
        files = sorted(model.parent.glob(model.name + ".*"))
        if not files:
            raise SystemExit(f"no model files {model}.* to bundle")
        for f in files:
            shutil.copy2(f, models / f.name)
    else:
        shipped = REPO / "assets" / "models"
        for f in sorted(shipped.glob("*")) if shipped.is_dir() else []:
            if f.suffix in (".onnx", ".json", ".md"):
                shutil.copy2(f, models / f.name)
    wheels = fetch_wheels(platforms)
    (STAGE / "wheels").mkdir()
    for w in wheels:
        shutil.copy2(w, STAGE / "wheels" / w.name)
    write_manifest(STAGE, wheels, platforms)
    return STAGE


def build(platforms: list[str], model: Path | None, out_dir: Path) -> list[Path]:
    staged = stage(platforms, model)
    tool = find_blender_ext()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{manifest_id()}-*.zip"):
        old.unlink()
    cmd = [sys.executable, str(tool), "build", "--source-dir", str(staged), "--output-dir", str(out_dir)]
    subprocess.run(cmd + ["--split-platforms"], check=True)
    zips = sorted(out_dir.glob(f"{manifest_id()}-*.zip"))
    for z in zips:
        subprocess.run([sys.executable, str(tool), "validate", str(z)], check=True)
    return zips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS), help="default: all")
    parser.add_argument("--model", type=Path, help="ONNX model set stem to bundle (default: assets/models/)")
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    args = parser.parse_args(argv)
    platforms = args.platform or list(PLATFORMS)
    for z in build(platforms, args.model, args.out):
        print(f"{z}  ({os.path.getsize(z) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
