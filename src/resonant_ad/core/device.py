"""The one place where the compute device and CPU threads are chosen."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def select_device(device: str = "auto") -> torch.device:
    """``"auto"`` gives CUDA when present, else CPU; any other value is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


#: rows (events × members) of one inference chunk on a CPU: a hidden layer's output then fits
#: in cache (65536 rows of 128 floats, 33 MB, did not, and ran 2-3× slower on 2 cores)
CPU_CHUNK_ROWS = 8192
#: the fewest events of a CPU chunk, however many members share it
CPU_MIN_CHUNK_EVENTS = 1024
#: events of one inference chunk on a GPU, where each kernel launch costs
GPU_CHUNK_EVENTS = 65536


def chunk_events(device: torch.device, members: int = 1) -> int:
    """Events per chunk of a large no-grad pass (flow maps, validation, batch-norm
    statistics, classifier scores): cache-sized on a CPU, large on a GPU.

    Every event's result is computed independently of the others, so the chunk size can
    move a number only through the matrix kernels' rounding for other row counts: on the
    reference CPU the default run's every result was bit for bit that of 65,536-event chunks
    (``python -m resonant_ad.bench chunks`` shows where it is not). The size depends only on
    the device and ``members``, so a config gives the same numbers on a given machine.
    """
    if device.type != "cpu":
        return GPU_CHUNK_EVENTS
    return max(CPU_MIN_CHUNK_EVENTS, CPU_CHUNK_ROWS // max(1, int(members)))


def chunks(n: int, size: int) -> Iterator[slice]:
    """Slices of ``range(n)`` of at most ``size`` events each."""
    for start in range(0, n, size):
        yield slice(start, start + size)


def set_threads(n: int) -> None:
    """Limit torch's CPU threads to the ``threads:`` Snakemake granted the job."""
    torch.set_num_threads(max(1, int(n)))
