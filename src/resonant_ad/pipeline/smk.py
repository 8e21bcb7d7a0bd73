"""Glue for the workflow's scripts: logging to the rule's log file, threads, the CPU code
path, and provenance.

Scripts call :func:`script_run` so that every rule logs the same way, and the Snakefile
calls :func:`source_hash` so that editing a package module reruns the rules that use it.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

PACKAGE = __name__.split(".")[0]
#: modules left out of code hashes: path patterns do not change results (a moved output is
#: seen by Snakemake itself), and every rule would otherwise rerun when a study is added
UNHASHED = {f"{PACKAGE}.pipeline.{m}" for m in ("patterns", "files", "targets")}
_PKG_DIR = Path(__file__).resolve().parents[1]  # the package root


#: the environment that holds each library's CPU code path at the x86-64 AVX2 level
#: (``cpu_code_path: avx2``): torch's vectorized kernels, its MKL (conditional numerical
#: reproducibility) and oneDNN, NumPy's and SciPy's OpenBLAS; NumPy's SIMD dispatch is
#: added by :func:`pin_cpu_code_path`, which knows its names
AVX2_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
}


#: ``cpu_code_path: portable``: the AVX2 path with MKL on its COMPATIBLE branch (SSE2 without
#: approximate instructions), the one fixed branch MKL honours on other vendors' CPUs too;
#: off Intel CPUs it runs its AUTO branch for ``MKL_CBWR=AVX2`` (Intel's MKL documentation;
#: on an AMD EPYC every other fixed branch gave AUTO's bits)
PORTABLE_ENV = {**AVX2_ENV, "MKL_CBWR": "COMPATIBLE"}
#: ``cpu_code_path: native``: every library on this CPU's widest instructions, MKL in its
#: reproducible mode on them (AUTO: fixed cache sizes, deterministic reductions, static
#: scheduling, by Intel's documentation); without it MKL is not bound to the same sums from
#: run to run, and here took other kernels for narrow products (the MAF's output layer)
NATIVE_ENV = {"MKL_CBWR": "AUTO"}
#: the values of ``cpu_code_path``
CODE_PATHS = ("avx2", "portable", "native")
#: every variable :func:`pin_cpu_code_path` may set
PINNED_VARS = (*AVX2_ENV, "NPY_DISABLE_CPU_FEATURES")


def _numpy_simd() -> tuple[list[str], dict[str, bool]]:
    """NumPy's SIMD dispatch targets (its names change between releases) and the CPU's
    features as NumPy sees them (``__cpu_dispatch__``, ``__cpu_features__``)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return list(__cpu_dispatch__), dict(__cpu_features__)


def numpy_avx512_targets() -> list[str]:
    """NumPy's SIMD dispatch targets above AVX2."""
    return [t for t in _numpy_simd()[0] if t.startswith("AVX512") or t == "X86_V4"]


def _has_avx2() -> bool:
    """Whether this is an x86-64 CPU with AVX2 (and FMA), the path ``avx2`` holds to."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    features = _numpy_simd()[1]
    return bool(features.get("AVX2") and features.get("FMA3"))


def cpu_vendor() -> str:
    """The CPU's vendor (``GenuineIntel``, ``AuthenticAMD``; "" where Linux does not say):
    MKL holds its AVX2 branch on Intel CPUs only."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    return ""


def non_intel_vendor() -> str:
    """The CPU's vendor where it is not Intel ("" on Intel's or where unknown): there MKL
    runs its AUTO branch whatever fixed one but ``COMPATIBLE`` is asked for."""
    vendor = cpu_vendor()
    return "" if vendor == "GenuineIntel" else vendor


def check_code_path(mode: str) -> None:
    """Refuse a ``cpu_code_path`` that is none of :data:`CODE_PATHS`, naming the value."""
    if mode not in CODE_PATHS:
        raise ValueError(f"cpu_code_path: {mode!r} is none of {', '.join(CODE_PATHS)}")


def cpu_code_path_env(mode: str) -> dict[str, str]:
    """The environment of ``cpu_code_path`` for processes started with it (``native``'s,
    :data:`NATIVE_ENV`, off x86-64 or on a CPU without AVX2); this process's is left as it is."""
    check_code_path(mode)
    if mode == "native" or not _has_avx2():
        return dict(NATIVE_ENV)  # ARM, or an x86-64 CPU older than AVX2: no path to hold
    env = dict(PORTABLE_ENV if mode == "portable" else AVX2_ENV)
    if targets := numpy_avx512_targets():
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(targets)
    return env


def child_environment(mode: str) -> dict[str, str]:
    """This process's environment with its code-path variables replaced by ``mode``'s: what a
    child process computing on that path is started with."""
    clean = {k: v for k, v in os.environ.items() if k not in PINNED_VARS}
    return clean | cpu_code_path_env(mode)


def pin_cpu_code_path(mode: str) -> dict[str, str]:
    """Set, for every job started from here on, the environment of ``cpu_code_path``.

    With ``avx2`` every Intel CPU with AVX2 runs the same kernels, so a config gives the same
    numbers on any of them (on other vendors' CPUs MKL runs its AUTO branch); ``portable``
    also holds MKL there, on a slower branch. Left to themselves (``native``, MKL only in its
    reproducible mode) torch, MKL, NumPy and OpenBLAS each pick the widest instructions of
    the CPU, and a flow trained on an AVX-512 machine differs in its last bits from one
    trained on an AVX2 machine, which then grows through the training. Returns what was set
    (:func:`cpu_code_path_env`).
    """
    env = cpu_code_path_env(mode)
    os.environ.update(env)
    return env


def code_path_warning(mode: str) -> str | None:
    """What ``cpu_code_path: avx2`` does not hold on this CPU (None where it holds): off Intel
    CPUs MKL runs its AUTO branch instead of AVX2's, and the trainings give this CPU's numbers."""
    vendor = non_intel_vendor()
    if mode != "avx2" or not vendor or not _has_avx2():
        return None
    return (
        f"cpu_code_path: avx2 on this {vendor} CPU: MKL holds its AVX2 branch on Intel CPUs only "
        "and runs its AUTO branch here, so this run's flows and NNs give this CPU's numbers, "
        "not an Intel machine's under the same config; cpu_code_path: portable gives the same "
        "on both (the flow's training step 20-45% slower; docs/running.md#the-same-numbers-on-"
        "another-cpu)"
    )


def code_path_summary() -> str:
    """One log line: the CPU code path this job's libraries run (see :func:`pin_cpu_code_path`)."""
    import numpy as np

    targets, features = _numpy_simd()
    used = [t for t in targets if features.get(t)]
    parts = [f"numpy {used[-1] if used else 'baseline'}"]
    if "torch" in sys.modules:
        import torch

        parts.insert(0, f"torch {torch.backends.cpu.get_cpu_capability()}")
        parts.append(f"torch threads {torch.get_num_threads()}")  # they move sums' rounding
    branch = os.environ.get("MKL_CBWR", "unset")
    if branch not in ("unset", "AUTO", "COMPATIBLE") and (vendor := non_intel_vendor()):
        branch += f" (not held on this {vendor} CPU: MKL runs AUTO)"
    parts.append(f"MKL_CBWR={branch}")
    return f"CPU code path: {', '.join(parts)} (numpy {np.__version__})"


def limit_threads(threads: int) -> None:
    """Hold the job to its ``threads:``: BLAS/OpenMP pools, and torch when a job uses it.

    torch is not imported for this: a job that does not need it (a fit, a figure) would pay
    two seconds of import; one that does has imported it with the package by now.
    """
    n = str(max(1, int(threads)))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = n
    if "torch" in sys.modules:
        from resonant_ad.core.device import set_threads

        set_threads(int(n))


@contextlib.contextmanager
def logged(log_path: str | None, threads: int = 1) -> Iterator[logging.Logger]:
    """Send logging and stderr to ``log_path`` (if given) and limit torch to ``threads``."""
    logger = logging.getLogger(PACKAGE)
    handlers: list[logging.Handler] = []
    stream = open(log_path, "w") if log_path else sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handlers.append(handler)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    limit_threads(threads)
    logger.info("%s", code_path_summary())
    start = time.perf_counter()
    try:
        with contextlib.redirect_stderr(stream):
            yield logger
            logger.info("done in %.1f s", time.perf_counter() - start)
    except BaseException:
        logger.exception("failed after %.1f s", time.perf_counter() - start)
        raise
    finally:
        handler.flush()
        if stream is not sys.stderr:
            stream.close()


def script_run(snakemake: Any, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``func(*args, **kwargs)`` inside :func:`logged` for a Snakemake script job."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    with logged(log_path, snakemake.threads):
        return func(*args, **kwargs)


def group_files(snakemake: Any) -> tuple[list[int], list[dict[str, str]], list[dict[str, str]]]:
    """A group job's runs (``params.runs``) and, per run, its inputs and outputs by kind
    (the ``{kind}_{run}`` keys of :func:`resonant_ad.pipeline.files.grouped` undone)."""
    from resonant_ad.pipeline.files import per_run

    runs = list(snakemake.params.runs)
    inputs = per_run(dict(snakemake.input.items()), runs)
    return runs, inputs, per_run(dict(snakemake.output.items()), runs)


def optional_input(snakemake: Any, name: str) -> str | None:
    """The one file of the named input ``name`` that an input function may leave empty
    (a step the config turns off), or None."""
    value = snakemake.input.get(name)
    if isinstance(value, str):
        return value
    files = list(value or [])
    if len(files) > 1:
        raise ValueError(f"input {name!r} holds {len(files)} files, at most one expected")
    return files[0] if files else None


def run_each(
    func: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    resume: Sequence[str | os.PathLike[str]] = (),
) -> None:
    """``func(*args, **kwargs)`` for each ``(label, args[, kwargs])`` of a group job, in turn.

    A group job handles several runs (or methods) that are independent of each other in one
    process, to pay the interpreter's and torch's start once; each call logs its label.
    ``resume``: the checkpoints the calls keep once done (a killed job's rerun skips their
    trainings, whose outputs Snakemake deletes), removed when every call has succeeded.
    """
    for label, args, *kwargs in calls:
        logging.getLogger(PACKAGE).info("%s", label)
        func(*args, **(kwargs[0] if kwargs else {}))
    if resume:
        from resonant_ad.core.training import remove_checkpoint

        for path in resume:
            remove_checkpoint(path)


def _module_file(name: str) -> Path | None:
    """The source file of package module ``name``, found by path (nothing is imported)."""
    rel = Path(*name.split(".")[1:])
    if not rel.parts:  # the package itself (``from . import module``)
        return _PKG_DIR / "__init__.py"
    for candidate in (_PKG_DIR / rel.with_suffix(".py"), _PKG_DIR / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_imports(name: str, path: Path) -> set[str]:
    """Modules of this package imported by the module ``name`` (absolute or relative)."""
    return set(_imports_in_source(name, str(path), path.read_text()))


@functools.cache
def _imports_in_source(name: str, path: str, source: str) -> frozenset[str]:
    """:func:`_package_imports` of one module's source text, parsed once per text: every
    rule's :func:`source_hash` walks the same modules, and parsing them anew each time made
    reading the Snakefile take seconds per Snakemake call."""
    tree = ast.parse(source, filename=path)
    is_pkg = Path(path).name == "__init__.py"
    parts = name.split(".")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts if is_pkg else parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != PACKAGE:
                continue
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # `from pkg import module`
    return frozenset(found)


def source_modules(*modules: str) -> dict[str, Path]:
    """``modules`` and every package module they import, transitively: name → source file."""
    seen: dict[str, Path] = {}
    todo = [m if m.startswith(PACKAGE) else f"{PACKAGE}.{m}" for m in modules]
    while todo:
        name = todo.pop()
        if name in seen or name in UNHASHED:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(_package_imports(name, path) - seen.keys())
    return seen


def check_package_checkout(workflow_dir: str | os.PathLike[str]) -> None:
    """Fail when the workflow at ``workflow_dir`` has its own ``src/`` package but Python
    imports another copy (an editable install of another clone, a non-editable install):
    its jobs would run, and its code hashes follow, the other copy's code, so an edit here
    would rerun nothing. A copy of the workflow without ``src/`` uses the installed package."""
    own = Path(workflow_dir) / "src" / PACKAGE
    if own.is_dir() and own.resolve() != _PKG_DIR:
        raise RuntimeError(
            f"this workflow's package is {own}, but Python imports {PACKAGE} from {_PKG_DIR}: "
            f"its jobs would run that copy. Install this one (`pip install --no-deps -e "
            f"{Path(workflow_dir)}`) or put it first on the path (PYTHONPATH={own.parent})."
        )


def source_hash(*modules: str, code_path: str = "") -> str:
    """12-hex digest of the source of ``modules`` and every package module they import, and
    of ``code_path`` (a ``cpu_code_path``) where given.

    Passed as a rule parameter, it makes Snakemake rerun a rule when code it depends on
    changes (Snakemake itself sees only the script, not the package it imports), and, with
    ``code_path``, when the CPU code path its numbers are computed on changes: the same code
    on another path gives other last bits, which a training carries into every number.
    """
    if code_path:
        check_code_path(code_path)
    seen = source_modules(*modules)
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(name.encode() + b"\0" + seen[name].read_bytes() + b"\0")
    if code_path:
        digest.update(b"cpu_code_path\0" + code_path.encode())
    return digest.hexdigest()[:12]
