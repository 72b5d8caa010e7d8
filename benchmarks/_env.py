"""Process set-up that must happen before numpy, torch or jax is imported, and the
description of the machine a run was made on.

:func:`configure` gives every library the same number of threads:

* ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and
  ``WINIT_THREADS`` are set to N (winit is also called with ``threads=N``,
  torch with ``torch.set_num_threads(N)``, and numpy/scipy BLAS is limited with
  threadpoolctl when it is installed);
* with fewer threads than cores, the process (and so every pool that sizes
  itself from the affinity mask, XLA's among them) is pinned to N cores;
* with N = 1, ``XLA_FLAGS`` also gets ``--xla_cpu_multi_thread_eigen=false
  intra_op_parallelism_threads=1``;
* ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, which some machines set and
  which slow a current OpenBLAS, are removed (and the report says so).

Memory probes are subprocesses of the run and inherit all of this.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "WINIT_THREADS")
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
DISTRIBUTIONS = ("numpy", "scipy", "winit", "torch", "jax", "jaxlib", "threadpoolctl")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def configure(threads: int) -> list[str]:
    """Set the environment for ``threads`` threads; return what was done, for the report."""
    late = [name for name in ("numpy", "torch", "jax") if name in sys.modules]
    if late:
        msg = f"configure() must run before {', '.join(late)} is imported"
        raise RuntimeError(msg)
    notes = []
    for name in OPENBLAS_OVERRIDES:
        if name in os.environ:
            value = os.environ.pop(name)
            notes.append(
                f"unset {name}={value!r} (set on this machine; it slows a current OpenBLAS)"
            )
    cores = available_cores()
    if threads < cores and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, cpus)
        notes.append(f"pinned the process to CPUs {cpus} of {cores}")
    elif threads > cores:
        notes.append(f"{threads} threads on {cores} cores: oversubscribed")
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    notes.append(f"{', '.join(THREAD_VARIABLES)} = {threads}")
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if XLA_SINGLE_THREAD not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {XLA_SINGLE_THREAD}".strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if os.environ.get("XLA_FLAGS"):
        notes.append(f"XLA_FLAGS = {os.environ['XLA_FLAGS']!r}")
    else:
        notes.append("XLA_FLAGS unset: XLA sizes its CPU pools from the affinity mask")
    return notes


def limit_blas(threads: int) -> str:
    """Limit every loaded BLAS to ``threads`` with threadpoolctl, if it is installed."""
    if importlib.util.find_spec("threadpoolctl") is None:
        return "threadpoolctl not installed: BLAS threads set by environment variables only"
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    return f"threadpoolctl.threadpool_limits({threads})"


def blas_info() -> list[dict[str, Any]]:
    if importlib.util.find_spec("threadpoolctl") is None:
        return []
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "architecture", "num_threads", "prefix")
    return [{k: pool.get(k) for k in keep} for pool in threadpool_info()]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_revision(repo: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def source_digest() -> str | None:
    """A short hash of the imported winit package's sources: the run may measure an
    uncommitted engine, which ``git describe --dirty`` cannot tell apart."""
    winit = sys.modules.get("winit")
    if winit is None or not getattr(winit, "__file__", None):
        return None
    digest = hashlib.sha256()
    for path in sorted(Path(winit.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def machine(threads: int, notes: list[str], digest: str | None) -> dict[str, Any]:
    """What the report says about the machine and the run's settings."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": available_cores(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in DISTRIBUTIONS},
        "winit_revision": _git_revision(Path(__file__).resolve().parent),
        "winit_sources_sha256": digest,
        "threads": threads,
        "environment": notes,
        "blas": blas_info(),
    }
