"""Shared fixtures: the real data beside the repository and a tiny random-weight model."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MPM_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_shared_data(*parts: str) -> Path:
    """Path under ../shared/data; a clear failure under CI, a skip elsewhere, when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = (
            f"real data {path} is missing: these tests need the shared data folder beside the "
            "repository (../shared/data) or MPM_SHARED_DATA pointing at it"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data() -> Path:
    return require_shared_data()


@pytest.fixture(scope="session")
def tiny_model():
    """A small random-weight MPM (eval mode) built in well under a second."""
    torch = pytest.importorskip("torch")
    from engine.config import MPMConfig
    from engine.model import MPM

    torch.manual_seed(0)
    return MPM(MPMConfig.preset("tiny")).eval()


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_model, tmp_path_factory) -> Path:
    """The tiny model saved as a checkpoint file."""
    from engine.checkpoint import save_checkpoint

    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.pt", tiny_model, tiny_model.cfg, epoch=0, step=0)
