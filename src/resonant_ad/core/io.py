"""File I/O with atomic writes: a final path only ever holds a complete file.

Each writer writes to a temporary name in the destination folder and renames it into
place, so an interrupted job never leaves a truncated file under its final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd


def _process_umask() -> int:
    """The process's file-creation mask (read once, at import, before any job thread runs:
    reading it means setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _process_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only if the block succeeds.

    The file gets the permissions of one created in place (0666 less the umask), not the
    temporary file's owner-only 0600, so a colleague on a shared cluster can read results."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a table as parquet, atomically."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def _read_table(path: str | os.PathLike[str], reader, columns: list[str] | None) -> pd.DataFrame:
    """Read with ``reader``; name the file when it is missing or lacks requested columns."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    df = reader(path)
    if columns is None:
        return df
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"{path}: missing column(s) {missing}; has {list(df.columns)}")
    return df[columns]


def read_parquet(path: str | os.PathLike[str], columns: list[str] | None = None) -> pd.DataFrame:
    """Read a parquet table (optionally only ``columns``), with errors naming the file."""
    return _read_table(path, pd.read_parquet, columns)


def read_csv(path: str | os.PathLike[str], columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV table (optionally only ``columns``), with errors naming the file."""
    return _read_table(path, pd.read_csv, columns)


def write_json(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write JSON (sorted keys, indented), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, naming it when it is missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    return json.loads(path.read_text())


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a CSV table without the index, atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
