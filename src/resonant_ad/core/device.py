"""The one place where the compute device and CPU threads are chosen."""

from __future__ import annotations

import torch


def select_device(device: str = "auto") -> torch.device:
    """``"auto"`` gives CUDA when present, else CPU; any other value is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def set_threads(n: int) -> None:
    """Limit torch's CPU threads to the ``threads:`` Snakemake granted the job."""
    torch.set_num_threads(max(1, int(n)))
