"""Download a dataset file with checksum verification, retries and an atomic rename.

The file is streamed to a temporary name next to its destination, its md5 computed on the
fly, and renamed to the final name only when the transfer is complete and the checksum
matches. A mismatch, a truncated body or a failed transfer raises :class:`DownloadError`
naming the file and (for a mismatch) both checksums, and leaves nothing under the final name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from resonant_ad.core.io import atomic_path

log = logging.getLogger(__name__)

CHUNK = 1 << 20
MD5_SUFFIX = ".md5"


class DownloadError(RuntimeError):
    """A download failed for good (after retries) or its content is wrong."""


class _Transient(Exception):
    """A failure worth retrying (connection trouble, 5xx, truncated transfer)."""


def md5sum(path: str | os.PathLike[str]) -> str:
    """md5 of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_file(path: str | os.PathLike[str]) -> Path:
    """The sidecar that records a file's md5 (``<file>.md5``)."""
    return Path(os.fspath(path) + MD5_SUFFIX)


def _fetch(url: str, dest: Path, timeout: float, progress: bool) -> str:
    """Stream ``url`` into ``dest``; return the md5 of what was received."""
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total is not None else None
            received = 0
            with (
                open(dest, "wb") as out,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    desc=dest.name.split(".part")[0],
                    disable=not progress,
                    mininterval=5,
                ) as bar,
            ):
                while True:
                    try:
                        block = resp.read(CHUNK)
                    except (ConnectionError, TimeoutError, OSError) as exc:
                        raise _Transient(
                            f"transfer broke off after {received} bytes: {exc}"
                        ) from exc
                    if not block:
                        break
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            if total is not None and received != total:
                raise _Transient(f"truncated: received {received} of {total} bytes")
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise _Transient(f"HTTP {exc.code} {exc.reason}") from exc
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _Transient(f"{exc.reason}") from exc
    except (ConnectionError, TimeoutError) as exc:
        raise _Transient(str(exc)) from exc
    return digest.hexdigest()


def download(
    urls: str | Sequence[str],
    dest: str | os.PathLike[str],
    md5: str | None = None,
    retries: int = 3,
    backoff: float = 5.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> str:
    """Download the first URL that works (mirrors in order) to ``dest``; return its md5.

    Each URL is tried ``retries`` times with exponential ``backoff`` seconds between tries on
    transient failures. With ``md5`` given, the received file must match it. Without it, the
    md5 of the received file is recorded and a warning says so. Either way the expected md5
    is written to ``<dest>.md5`` so that later steps can verify the file (:func:`verify`).
    """
    dest = Path(dest)
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise DownloadError(f"{dest}: no URL configured")
    errors: list[str] = []
    for url in urls:
        for attempt in range(1, retries + 1):
            try:
                with atomic_path(dest) as tmp:
                    log.info("downloading %s -> %s (try %d/%d)", url, dest, attempt, retries)
                    got = _fetch(url, tmp, timeout, progress)
                    if md5 is not None and got != md5.lower():
                        raise DownloadError(
                            f"{dest.name}: md5 mismatch for {url}: "
                            f"expected {md5.lower()}, got {got}"
                        )
                expected = md5.lower() if md5 is not None else got
                if md5 is None:
                    log.warning(
                        "%s: no md5 configured; recorded %s in %s and will verify against it",
                        dest.name,
                        got,
                        checksum_file(dest),
                    )
                with atomic_path(checksum_file(dest)) as tmp:
                    tmp.write_text(f"{expected}  {dest.name}\n")
                return expected
            except _Transient as exc:
                errors.append(f"{url} (try {attempt}): {exc}")
                log.warning("%s: %s", dest.name, exc)
                if attempt < retries:
                    time.sleep(backoff * 2 ** (attempt - 1))
            except DownloadError as exc:
                errors.append(str(exc))
                if "md5 mismatch" in str(exc):
                    raise
                break  # a permanent HTTP error: try the next mirror
    raise DownloadError(f"{dest.name}: download failed:\n  " + "\n  ".join(errors))


def verify(path: str | os.PathLike[str], md5: str | None = None) -> str:
    """Check ``path`` against ``md5`` or, without it, against its ``.md5`` sidecar; return it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    expected = md5
    if expected is None and checksum_file(path).exists():
        expected = checksum_file(path).read_text().split()[0]
    got = md5sum(path)
    if expected is not None and got != expected.lower():
        raise DownloadError(f"{path}: md5 mismatch: expected {expected.lower()}, got {got}")
    return got
