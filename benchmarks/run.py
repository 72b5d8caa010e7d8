#!/usr/bin/env python
"""Benchmark winit against torch.nn.init, jax.nn.initializers and numpy/scipy.

    python benchmarks/run.py                  # full run, ~10-15 minutes on 2 cores
    python benchmarks/run.py --quick          # small sizes, < 1 minute: a smoke test
    python benchmarks/run.py --threads 1 --only he_normal --no-memory

Every library gets the same number of threads (default: the available cores) in
one process; peers that are not installed are skipped with a note. Writes
``<out>/<name>.md`` and ``<out>/<name>.json`` (name: ``latest``, or ``quick``
with --quick) and prints the report. See benchmarks/README.md and
docs/benchmarks.md for what each case means and how it is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark winit against torch, jax and numpy at equal thread counts."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument(
        "--threads", type=int, default=None, help="threads for every library (default: cores)"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE / "results", help="directory for the .md and .json"
    )
    parser.add_argument(
        "--name", default=None, help="file name stem (default: latest, or quick with --quick)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only the cases whose id contains TEXT (repeatable)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    parser.add_argument("--no-limits", action="store_true", help="skip the limit measurements")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="only rewrite the report (.md next to it) from the results JSON of a run",
    )
    parser.add_argument("--probe", nargs=2, metavar=("CASE", "IMPL"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load() -> float | None:
    """The 1-minute load average: other work on the machine shows here."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def render(path: Path) -> int:
    import _report

    data = json.loads(path.read_text())
    data["targets"] = _report.targets(_report.Results(data))
    path.write_text(json.dumps(data, indent=1) + "\n")
    text = _report.markdown(data)
    path.with_suffix(".md").write_text(text)
    print(text)
    print(_report.targets_text(data))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        return render(args.render)
    import _env  # imports nothing heavy: must configure before numpy is loaded

    threads = args.threads or _env.available_cores()
    if threads < 1:
        raise SystemExit("--threads must be at least 1")
    notes = _env.configure(threads)

    import _cases
    import _measure
    import _peers
    import _report

    notes.append(_env.limit_blas(threads))
    digest = _env.source_digest()  # of the winit just imported, before any timing
    cases = _cases.catalog(threads, args.quick)

    if args.probe:  # a memory probe: a subprocess of a run
        case, impl = _cases.find(cases, *args.probe)
        print(json.dumps(_measure.probe(case, impl)))
        return 0

    if args.only:
        cases = [c for c in cases if any(text in c.id for text in args.only)]
    skipped = [
        f"{peer} is not installed: its rows are skipped"
        for peer in _peers.PEERS
        if not _peers.available(peer)
    ]
    for note in skipped:
        log(note)
    started = time.perf_counter()
    load_before = _load()
    limits = None
    if not args.no_limits:
        log("measuring the limits (raw RNG words/s, write bandwidth)")
        limits = _measure.limits(threads, args.quick)
    results = {}
    for case in cases:
        results[case.id] = _measure.time_case(case, log)
    if not args.no_memory:
        _measure.memory(cases, results, threads, args.quick, log)
    data: dict[str, Any] = {
        "machine": _env.machine(threads, notes, digest),
        "settings": {
            "quick": args.quick,
            "only": args.only,
            "memory": not args.no_memory,
            "seconds": round(time.perf_counter() - started, 1),
            "load_average_before_after": [load_before, _load()],
        },
        "limits": limits,
        "cases": list(results.values()),
        "notes": skipped,
    }
    data["targets"] = _report.targets(_report.Results(data))
    args.out.mkdir(parents=True, exist_ok=True)
    name = args.name or ("quick" if args.quick else "latest")
    text = _report.markdown(data)
    (args.out / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    (args.out / f"{name}.md").write_text(text)
    print(text)
    print(_report.targets_text(data))
    log(f"wrote {args.out / name}.md and .json in {data['settings']['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
