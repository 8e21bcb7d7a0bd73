"""The wheels a lent GPU machine lacks, for workflow/gpu/run.sh.

    python workflow/gpu/wheels.py [--dest .whl] [--python-version 3.12]

Run it in the project's environment (installed from envs/requirements.lock): it walks the
installed dependency tree of what the title-claim run imports beyond the machine's image
(Snakemake, PyTables, nflows, iminuit, mplhep, uproot, awkward); drops what the image
already holds (workflow/gpu/device-packages.txt: a carried numpy or torch would shadow its
CUDA build) and what the run never imports (``OMIT``); and fetches each of the rest at its
installed version as a wheel for that machine's CPython. A project published only as
source is built here (pure Python only).
Needs a package registry; the machine itself reaches none. DEST must be ignored by git
(.git/info/exclude) and named in the device call's ``carry``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: what the title-claim run imports that the machine's image may lack
WANTED = ("snakemake", "tables", "nflows", "iminuit", "mplhep", "uproot", "awkward")
#: x86-64 Linux platform tags pip must match exactly, newest first
PLATFORMS = ("manylinux_2_28", "manylinux_2_27", "manylinux_2_24", "manylinux_2_17")
#: dependencies the run never imports: PuLP (16 MiB) serves only Snakemake's MILP scheduler,
#: and run.sh asks for the greedy one
OMIT = frozenset({"pulp"})
HERE = Path(__file__).resolve().parent


def image_packages(path: Path = HERE / "device-packages.txt") -> set[str]:
    """The canonical names of the packages the machine's image holds."""
    lines = path.read_text().splitlines()
    return {canonicalize_name(s) for s in (x.strip() for x in lines) if s and s[0] != "#"}


def closure(roots: tuple[str, ...], python_version: str, have: set[str]) -> dict[str, str]:
    """Installed name → version for ``roots`` and their dependencies under that Python,
    stopping at what the image holds (its own dependencies are there with it)."""
    env = {"python_version": python_version, "python_full_version": f"{python_version}.0"}
    found: dict[str, str] = {}
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in found or (name in have and name not in roots):
            continue
        dist = metadata.distribution(name)
        found[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
                todo.append(canonicalize_name(req.name))
    return {n: v for n, v in found.items() if n not in have and n not in OMIT}


def fetch(name: str, version: str, dest: Path, python_version: str) -> str:
    """Download ``name==version`` as a wheel for that Python; build it here if only its
    source is published. Returns how it came."""
    spec = f"{name}=={version}"
    plat = [a for p in PLATFORMS for a in ("--platform", f"{p}_x86_64")]
    download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
    download += ["--only-binary=:all:", "--python-version", python_version]
    download += ["--implementation", "cp", *plat, "-d", str(dest), spec]
    if subprocess.run(download, capture_output=True, text=True).returncode == 0:
        return "downloaded"
    with tempfile.TemporaryDirectory() as tmp:
        build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp, spec]
        subprocess.run(build, check=True, capture_output=True, text=True)
        (wheel,) = Path(tmp).glob("*.whl")
        if not wheel.name.endswith("-none-any.whl"):
            raise SystemExit(f"wheels.py: {spec} has no wheel for CPython {python_version}")
        shutil.move(wheel, dest / wheel.name)
    return "built here"


def unmet(dest: Path, python_version: str, have: set[str]) -> list[str]:
    """Each requirement of a wheel in ``dest`` (read from its own metadata, under that Python)
    that neither another wheel there nor the image provides: empty when the set is whole."""
    env = {"python_version": python_version, "python_full_version": f"{python_version}.0"}
    wheels = {canonicalize_name(w.name.split("-")[0]): w for w in dest.glob("*.whl")}
    missing = []
    for name, wheel in sorted(wheels.items()):
        with zipfile.ZipFile(wheel) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            requires = Parser().parsestr(zf.read(meta).decode()).get_all("Requires-Dist") or []
        for text in requires:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
                continue
            dep = canonicalize_name(req.name)
            if dep not in wheels and dep not in have and dep not in OMIT:
                missing.append(f"{name} needs {text}")
    return missing


def main(argv: list[str] | None = None) -> int:
    """Fill DEST with the wheels, one line per package on stderr; fail if one of them
    needs a package that neither the set nor the image holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path(".whl"))
    parser.add_argument("--python-version", default="3.12", help="the machine's CPython")
    args = parser.parse_args(argv)
    needed = closure(WANTED, args.python_version, image_packages())
    args.dest.mkdir(parents=True, exist_ok=True)
    for old in args.dest.glob("*.whl"):
        old.unlink()
    for i, (name, version) in enumerate(sorted(needed.items()), 1):
        how = fetch(name, version, args.dest, args.python_version)
        print(f"[{i}/{len(needed)}] {name}=={version}: {how}", file=sys.stderr, flush=True)
    size = sum(p.stat().st_size for p in args.dest.glob("*.whl")) / 2**20
    missing = unmet(args.dest, args.python_version, image_packages())
    if missing:
        raise SystemExit("wheels.py: the set is not whole:\n  " + "\n  ".join(missing))
    print(f"wheels.py: {len(needed)} wheels in {args.dest} ({size:.1f} MiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
