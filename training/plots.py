"""Training curves from a metrics.jsonl file, drawn headless (matplotlib Agg)."""
from __future__ import annotations

import json
from pathlib import Path


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_metrics(path: str | Path, record: dict) -> None:
    """Append one epoch's record, replacing any record of that epoch or later (a run that
    was killed between writing metrics and its checkpoint redoes that epoch)."""
    path = Path(path)
    kept = [r for r in read_metrics(path) if r.get("epoch", 0) < record["epoch"]]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept + [record]), encoding="utf-8")
    tmp.replace(path)


def plot_curves(metrics_path: str | Path, out_path: str | Path, title: str | None = None) -> Path | None:
    """Two panels: training losses and validation errors (mm) per epoch, under ``title``
    (default: the metrics file's folder)."""
    records = read_metrics(metrics_path)
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in records]
    fig, (ax_train, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for key in sorted({k for r in records for k in r if k.startswith("train_")}):
        ax_train.plot(epochs, [r.get(key, float("nan")) for r in records], marker=".", label=key[6:])
    ax_train.set(title="training losses", xlabel="epoch", yscale="log")
    ax_train.legend(fontsize=8)
    for key in sorted({k for r in records for k in r if k.startswith("val_")}):
        ax_val.plot(epochs, [r.get(key, float("nan")) for r in records], marker=".", label=key[4:])
    ax_val.set(title="validation (mm)", xlabel="epoch")
    for ax in (ax_train, ax_val):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    if any(k.startswith("val_") for r in records for k in r):
        ax_val.legend(fontsize=8)
    fig.suptitle(title if title is not None else str(Path(metrics_path).parent))
    fig.tight_layout()
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path
