#!/usr/bin/env python3
"""Export a random-weight model of a preset to an ONNX model set, for benchmarks that
should not wait for a trained model (the timing depends on the size, not the weights).

    .venv/bin/python benchmarks/export_random_model.py small build/bench/small
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", help="model preset (engine/data/model_presets.toml), e.g. small")
    parser.add_argument("stem", type=Path, help="output stem: writes STEM.<job>.onnx")
    args = parser.parse_args(argv)
    import torch

    from engine.config import MPMConfig
    from engine.model import MPM
    from engine.onnx_export import export_onnx

    torch.manual_seed(0)
    for job, path in export_onnx(MPM(MPMConfig.preset(args.preset)).eval(), args.stem).items():
        print(f"{job}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
