"""Timing, the physical limits, and peak-memory probes."""

from __future__ import annotations

import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _peers as peers
import numpy as np
from _cases import Case, Impl

RUN = Path(__file__).resolve().parent / "run.py"


# -- timing -----------------------------------------------------------------------------------


def _row(impl: Impl) -> dict[str, Any]:
    return {"name": impl.name, "peer": impl.peer, "call": impl.call, "buffer": impl.buffer}


SETTLE_S = {"orthogonal": 0.25}
"""Pause before each implementation, by case group (default 0.03 s): long enough
for the idle threads of the previous library's pool to stop spinning (OpenBLAS's
spin for up to ~0.1 s after a call, OpenMP's and Eigen's for less), which on 2
cores would otherwise take a core from the next library."""


MIN_REPEATS = 3
BUDGET_S = 2.5
"""Seconds of timed calls aimed at per implementation: an implementation whose
warm-up call took longer gets fewer than ``case.repeats`` calls, never fewer than
:data:`MIN_REPEATS`."""


def time_case(case: Case, log: Callable[[str], None]) -> dict[str, Any]:
    """Time each implementation of ``case`` in turn: a pause, a warm-up call, then
    up to ``case.repeats`` calls back to back (see :data:`BUDGET_S`). Returns the
    case's result with each row's times and median."""
    rows: list[dict[str, Any]] = []
    began = time.perf_counter()
    for impl in case.impls:
        row = _row(impl)
        rows.append(row)
        if not peers.available(impl.peer):
            row["skipped"] = f"{impl.peer} is not installed"
            continue
        time.sleep(SETTLE_S.get(case.group, 0.03))
        try:
            call, compile_s = impl.make(True)
            start = time.perf_counter()
            call()  # warm-up: first-touch costs, thread pools, caches
            first = time.perf_counter() - start
        except Exception as error:  # a peer without this dtype, say
            row["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:160]
            continue
        if compile_s is not None:
            row["compile_s"] = compile_s
        repeats = max(MIN_REPEATS, min(case.repeats, int(BUDGET_S / max(first, 1e-9))))
        if impl.alternate is None:
            row["times_s"] = _repeat_in_turn([call], repeats)[0]
        else:  # this implementation and the other one, in turn
            row["alternate_call"] = impl.alternate[0]
            other, _ = impl.alternate[1](True)
            other()
            times = _repeat_in_turn([call, other], 2 * repeats + 1)
            row["times_s"], row["alternate_times_s"] = times
            ratios = [impl.alternate_scale * a / b for a, b in zip(*times, strict=True)]
            row["alternate_ratio"] = statistics.median(ratios)
            row["alternate_ratio_range"] = [min(ratios), max(ratios)]
            row["alternate_scale"] = impl.alternate_scale
            del other
        row["median_s"] = statistics.median(row["times_s"])
        row["ns_per_element"] = row["median_s"] / case.elements * 1e9
        del call  # and with it the implementation's buffers
        gc.collect()
    shown = ", ".join(
        f"{r['name']} {r['ns_per_element']:.2f}" for r in rows if "ns_per_element" in r
    )
    log(f"{case.id} ({time.perf_counter() - began:.1f} s): ns/element {shown}")
    return {
        "id": case.id,
        "group": case.group,
        "init": case.init,
        "kind": case.kind,
        "dtype": case.dtype,
        "shape": list(case.shape),
        "elements": case.elements,
        "output_bytes": case.output_bytes,
        "repeats": case.repeats,
        "notes": case.notes,
        "impls": rows,
    }


def _repeat_in_turn(calls: list[Callable[[], Any]], repeats: int) -> list[list[float]]:
    """Each call's times over ``repeats`` rounds, the calls made in turn in each round."""
    times: list[list[float]] = [[] for _ in calls]
    gc.disable()
    try:
        for _ in range(repeats):
            for call, log in zip(calls, times, strict=True):
                start = time.perf_counter()
                result = call()
                log.append(time.perf_counter() - start)
                del result
    finally:
        gc.enable()
    return times


# -- the limits -------------------------------------------------------------------------------


def _fastest(call: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` calls after a warm-up: a limit is a best case."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def _on_threads(pool: ThreadPoolExecutor, tasks: list[Callable[[], Any]]) -> None:
    for future in [pool.submit(task) for task in tasks]:
        future.result()


GENERATORS = {"sfc64": np.random.SFC64, "philox": np.random.Philox, "pcg64": np.random.PCG64}


def engine_generator() -> str:
    """The numpy bit generator winit's engine draws from (a private detail of
    winit, so looked up defensively): a key of :data:`GENERATORS`, or ''."""
    try:
        from winit import _engine

        name = type(_engine.Streams().bitgen).__name__.lower()
    except Exception:  # the engine changed shape: no RNG floor then
        return ""
    return name if name in GENERATORS else ""


def limits(threads: int, quick: bool) -> dict[str, Any]:
    """Raw 64-bit words/s of numpy's SFC64, Philox and PCG64 (``random_raw`` in
    chunks of 65536 words, one generator per thread) and the write bandwidth of
    ``ndarray.fill`` on a prefaulted buffer (split in equal parts, one per thread)."""
    counts = sorted({1, threads})
    chunk = 1 << 16
    total_words = chunk * (64 if quick else 256)
    result: dict[str, Any] = {"threads": counts, "engine_generator": engine_generator()}
    for name, bitgen in GENERATORS.items():
        result[name] = {}
        for t in counts:
            gens = [bitgen(seed) for seed in range(t)]
            calls = total_words // chunk // t

            def draw(g: np.random.BitGenerator, calls: int = calls) -> None:
                for _ in range(calls):
                    g.random_raw(chunk)

            with ThreadPoolExecutor(t) as pool:
                tasks = [lambda g=g: draw(g) for g in gens]
                seconds = _fastest(lambda tasks=tasks: _on_threads(pool, tasks), 5)
            result[name][str(t)] = seconds / (calls * chunk * t) * 1e9  # ns per word
    buf = np.empty((16 if quick else 64) << 20, dtype=np.float32)
    buf.fill(0)
    result["fill_gb_per_s"] = {}
    for t in counts:
        parts = np.array_split(buf, t)
        with ThreadPoolExecutor(t) as pool:
            tasks = [lambda p=p: p.fill(1.0) for p in parts]
            seconds = _fastest(lambda tasks=tasks: _on_threads(pool, tasks), 5)
        result["fill_gb_per_s"][str(t)] = buf.nbytes / seconds / 1e9
    result["fill_bytes"] = buf.nbytes
    return result


# -- peak memory ------------------------------------------------------------------------------


def _status(field: str) -> int | None:
    """A ``/proc/self/status`` memory field in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def probe(case: Case, impl: Impl) -> dict[str, Any]:
    """In a fresh process: import and prepare ``impl`` (jax: compile), then measure
    how far one call that allocates its result raises the peak RSS above the RSS
    just before it."""
    call, _ = impl.make(False)
    gc.collect()
    exact = _reset_peak()
    before = _status("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = call()
    peak = _status("VmHWM") if exact else None
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    del result
    if before is None:
        before = maxrss_before
    if exact and peak is not None:
        return {"peak_bytes": peak - before, "method": "VmHWM (reset) - VmRSS"}
    if maxrss_after > maxrss_before:
        return {"peak_bytes": maxrss_after - before, "method": "ru_maxrss - VmRSS"}
    return {"peak_bytes": maxrss_before - before, "method": "ru_maxrss bound", "upper_bound": True}


def memory(
    cases: list[Case], results: dict[str, dict[str, Any]], threads: int, quick: bool,
    log: Callable[[str], None],
) -> None:  # fmt: skip
    """Probe every selected (case, implementation) in its own subprocess and add
    ``peak_bytes`` and ``peak_ratio`` (to the output size) to its result row."""
    for case in cases:
        if not case.memory or case.id not in results:
            continue
        rows = {row["name"]: row for row in results[case.id]["impls"]}
        for impl in case.impls:
            row = rows[impl.name]
            if not impl.memory or "median_s" not in row:
                continue
            if case.memory == "winit" and impl.peer != "winit":
                continue
            command = [sys.executable, str(RUN), "--probe", case.id, impl.name]
            command += ["--threads", str(threads)] + (["--quick"] if quick else [])
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=600, check=True
                )
                found = json.loads(done.stdout.strip().splitlines()[-1])
            except (subprocess.SubprocessError, ValueError, IndexError) as error:
                stderr = getattr(error, "stderr", "") or ""
                row["peak_error"] = (stderr.strip().splitlines() or [str(error)])[-1][:160]
                log(f"memory {case.id} {impl.name}: failed: {row['peak_error']}")
                continue
            row["peak_bytes"] = found["peak_bytes"]
            row["peak_ratio"] = found["peak_bytes"] / case.output_bytes
            row["peak_method"] = found["method"]
            if found.get("upper_bound"):
                row["peak_upper_bound"] = True
            log(f"memory {case.id} {impl.name}: {row['peak_ratio']:.2f}x output")
