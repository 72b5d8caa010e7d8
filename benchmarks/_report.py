"""The markdown report and the targets of issue 4."""

from __future__ import annotations

import math
from typing import Any

from _cases import GPT2_MINI, TRUNCATED_MASS

MIB = 1 << 20
ALTERNATING = "winit ÷ normal"  # the row of a truncated case timed in turn with the normal

# Stream words per output element of winit's engine (see docs/engine.md): Box-Muller
# takes one 64-bit word per pair of float32 normals; numpy's float64 ziggurat takes
# one word per normal (plus about 1% for its rejections, ignored); uniform takes one
# 32-bit half-word per float32 (a whole word per float64); the truncated normal draws
# normals and redraws the ~4.6% outside +-2 std.
_WORDS = {("normal", False): 0.5, ("normal", True): 1.0, ("uniform", False): 0.5,
          ("uniform", True): 1.0}  # fmt: skip


def words_per_element(kind: str, dtype: str) -> float | None:
    wide = dtype == "float64"
    if kind == "truncated_normal":
        return _WORDS[("normal", wide)] / TRUNCATED_MASS
    return _WORDS.get((kind, wide))


class Results:
    """Look-ups into one run's results."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.cases = {case["id"]: case for case in data["cases"]}
        self.threads = data["machine"]["threads"]
        self.quick = data["settings"]["quick"]

    def row(self, case_id: str, name: str) -> dict[str, Any] | None:
        case = self.cases.get(case_id)
        if case is None:
            return None
        return next((r for r in case["impls"] if r["name"] == name), None)

    def median(self, case_id: str, name: str) -> float | None:
        row = self.row(case_id, name)
        return None if row is None else row.get("median_s")

    def floors(self, case: dict[str, Any]) -> tuple[float, float] | None:
        """(RNG floor, write floor) in ns per element at the run's thread count."""
        words = words_per_element(case["kind"], case["dtype"])
        limits = self.data.get("limits")
        generator = (limits or {}).get("engine_generator", "philox")
        if words is None or not limits or generator not in limits:
            return None
        t = str(self.threads) if str(self.threads) in limits[generator] else "1"
        rng = words * limits[generator][t]
        write = case["output_bytes"] / case["elements"] / limits["fill_gb_per_s"][t]
        return rng, write


def baseline_name(row: dict[str, Any]) -> str:
    """The winit row a peer row is compared with: like buffer with like."""
    return "winit fresh" if row["buffer"].startswith("fresh") else "winit"


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def _x(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


def _mib(n: float) -> str:
    return f"{n / MIB:.0f} MiB" if n >= 10 * MIB else f"{n / MIB:.1f} MiB"


# -- targets --------------------------------------------------------------------------------------


def _sizes(quick: bool) -> dict[str, str]:
    if quick:
        return {"16M": "1M", "64M": "1M", "2048": "512x512", "4096": "512x512",
                "sparse": "512x512", "gpt2": GPT2_MINI}  # fmt: skip
    return {"16M": "16M", "64M": "64M", "2048": "2048x2048", "4096": "4096x4096",
            "sparse": "4096x4096", "gpt2": "gpt2-small"}  # fmt: skip


def targets(r: Results) -> list[dict[str, Any]]:
    """Each target of issue 4 with its measured ratio and PASS/MISS (n/a if a peer
    or a case is missing). Elementwise targets are at float32, 16M elements."""
    size = _sizes(r.quick)
    out: list[dict[str, Any]] = []

    def add(
        statement: str, value: float | None, limit: float, higher: bool, shown: str = ""
    ) -> None:
        if value is None and r.quick:
            return  # the quick run has only some of the cases
        if value is None:
            out.append({"target": statement, "measured": "n/a", "status": "n/a"})
            return
        ok = value >= limit if higher else value <= limit
        out.append(
            {"target": statement, "measured": shown or f"{value:.2f}×", "value": value,
             "limit": limit, "status": "PASS" if ok else "MISS"}
        )  # fmt: skip

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a / b

    def ew(name: str, dtype: str = "float32", label: str = "16M") -> str:
        return f"{name}/{dtype}/{size[label]}"

    for fam in ("he", "glorot", "lecun"):
        c = ew(f"{fam}_normal")
        add(f"{fam}_normal f32 {size['16M']}: throughput ≥ 1.0× torch, equal threads",
            ratio(r.median(c, "torch"), r.median(c, "winit")), 1.0, True)  # fmt: skip
    for fam in ("he", "glorot", "lecun"):
        c = ew(f"{fam}_normal")
        add(f"{fam}_normal f32 {size['16M']}: ≥ 4× naive numpy (both allocate)",
            ratio(r.median(c, "numpy naive"), r.median(c, "winit fresh")), 4.0, True)  # fmt: skip
    for name in ("uniform", "he_uniform", "glorot_uniform", "lecun_uniform"):
        c = ew(name)
        add(f"{name} f32 {size['16M']}: throughput ≥ 1.5× torch",
            ratio(r.median(c, "torch"), r.median(c, "winit")), 1.5, True)  # fmt: skip
    pairs = [("truncated_normal", "normal")] + [
        (f"{f}_truncated_normal", f"{f}_normal") for f in ("he", "glorot", "lecun")
    ]
    for trunc, normal in pairs:
        # timed in turn with the normal when the run did so (a run from before: the
        # two cases' medians)
        paired = r.row(ew(trunc), ALTERNATING)
        if paired is not None and "alternate_ratio" in paired:
            value, how = paired["alternate_ratio"], " (timed in turn)"
        else:
            value, how = ratio(r.median(ew(trunc), "winit"), r.median(ew(normal), "winit")), ""
        add(f"{trunc} f32 {size['16M']}: time ≤ 1.25× winit {normal}",
            value, 1.25, False, "" if value is None else f"{value:.2f}×{how}")  # fmt: skip
    for trunc, _ in pairs:
        c = ew(trunc)
        add(f"{trunc} f32 {size['16M']}: throughput ≥ 4× torch trunc_normal_",
            ratio(r.median(c, "torch"), r.median(c, "winit")), 4.0, True)  # fmt: skip
    for key in sorted({size["2048"], size["4096"]}):
        c = f"orthogonal/float32/{key}"
        add(f"orthogonal {key}: time ≤ 1.0× torch orthogonal_",
            ratio(r.median(c, "winit"), r.median(c, "torch")), 1.0, False)  # fmt: skip
    c = f"sparse/float32/{size['sparse']}"
    add(f"sparse {size['sparse']}, sparsity 0.9: throughput ≥ 1.0× torch sparse_",
        ratio(r.median(c, "torch"), r.median(c, "winit")), 1.0, True)  # fmt: skip
    c = f"{size['gpt2']}/float32"
    add(f"{size['gpt2']}, all parameters into preallocated tensors: ≥ 1.0× torch",
        ratio(r.median(c, "torch"), r.median(c, "winit")), 1.0, True)  # fmt: skip
    add(f"{size['gpt2']}, allocating every tensor: ≥ 1.0× torch",
        ratio(r.median(c, "torch fresh"), r.median(c, "winit fresh")), 1.0, True)  # fmt: skip
    for case in r.cases.values():
        if case["group"] != "blocks" or "unaligned" in case["id"]:
            continue
        for row in case["impls"]:
            if "alternate_ratio" in row and case["elements"] >= 1 << 20:
                add(f"{case['id']}: time per element ≤ 1.5× the whole's",
                    row["alternate_ratio"], 1.5, False)  # fmt: skip
    for case in r.cases.values():
        if case["group"] != "elementwise" or not case["id"].endswith("/" + size["64M"]):
            continue
        row = r.row(case["id"], "winit")
        if row is None or "peak_bytes" not in row:
            continue
        out_bytes = case["output_bytes"]
        bound = 1.1 * out_bytes + 64 * MIB
        shown = f"{_mib(row['peak_bytes'])} = {row['peak_ratio']:.2f}× output"
        add(f"{case['init']} f32 {size['64M']}: peak memory ≤ 1.1× output + 64 MiB "
            f"({_mib(bound)})", row["peak_bytes"], bound, False, shown)  # fmt: skip
    return out


# -- the report -----------------------------------------------------------------------------------


def _machine(m: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    v = m["versions"]
    versions = ", ".join(f"{k} {v[k]}" if v[k] else f"{k} (not installed)" for k in v)
    lines = [
        f"- **CPU**: {m['cpu']}, {m['cores']} cores ({m['cores_available']} available), "
        f"{m['memory_gib']} GiB; {m['platform']}",
        f"- **Threads**: {m['threads']} for every library; Python {m['python']}",
        f"- **Versions**: {versions}",
        f"- **winit revision**: {m['winit_revision']} (sources sha256 "
        f"{m.get('winit_sources_sha256')}); run {m['date']}"
        + ("; **quick mode** (small sizes, indicative only)" if settings["quick"] else ""),
        "- **Environment**: " + "; ".join(m["environment"]),
        f"- **Load average** (1 min) before and after: "
        f"{settings.get('load_average_before_after')}; run took {settings.get('seconds')} s",
    ]
    for pool in m.get("blas", []):
        what = " ".join(
            str(pool[k]) for k in ("internal_api", "version", "architecture") if pool.get(k)
        )
        lines.append(f"- **{pool['user_api']} pool**: {what}, {pool['num_threads']} threads")
    return lines


def _limits(limits: dict[str, Any]) -> list[str]:
    counts = [str(t) for t in limits["threads"]]
    head = "| limit | " + " | ".join(f"{t} thread{'s' if t != '1' else ''}" for t in counts)
    lines = [head + " |", "|---|" + "---:|" * len(counts)]
    labels = {"sfc64": "SFC64", "philox": "Philox4x64", "pcg64": "PCG64"}
    for name, label in labels.items():
        if name not in limits:
            continue
        label = f"{label} `random_raw`"
        if name == limits.get("engine_generator", "philox"):
            label += " (winit's engine)"
        cells = [
            f"{limits[name][t]:.2f} ns/word ({1e9 / limits[name][t] / 1e6:.0f} M words/s)"
            for t in counts
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = [f"{limits['fill_gb_per_s'][t]:.1f} GB/s" for t in counts]
    lines.append(
        f"| write bandwidth (`ndarray.fill`, {_mib(limits['fill_bytes'])} prefaulted) | "
        + " | ".join(cells) + " |"
    )  # fmt: skip
    return lines


def _summary(r: Results) -> list[str]:
    """float32 elementwise at the target size, one row per initializer."""
    label = _sizes(r.quick)["16M"]
    peers = ["torch", "jax", "numpy naive", "numpy out=", "scipy"]
    present = [
        p for p in peers
        if any(r.median(c["id"], p) for c in r.cases.values() if c["group"] == "elementwise")
    ]  # fmt: skip
    head = "| initializer | winit out= | winit fresh | " + " | ".join(present) + " |"
    lines = [head, "|---|" + "---:|" * (2 + len(present))]
    for case in r.cases.values():
        if case["group"] != "elementwise" or not case["id"].endswith("/" + label):
            continue
        cells = []
        for name in ["winit", "winit fresh", *present]:
            row = r.row(case["id"], name)
            if row is None or "ns_per_element" not in row:
                cells.append("—")
                continue
            text = f"{row['ns_per_element']:.2f}"
            if not name.startswith("winit"):
                base = r.median(case["id"], baseline_name(row))
                if base:
                    text += f" ({_x(row['median_s'] / base)})"
            cells.append(text)
        lines.append(f"| {case['init']} | " + " | ".join(cells) + " |")
    return lines


def _detail(r: Results, group: str) -> list[str]:
    lines = [
        "| case | implementation | buffer | median ms | min–max ms (n) | ns/elem | peer ÷ winit "
        "| winit ÷ limits (RNG · write) | peak mem ÷ output | jax compile ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in r.cases.values():
        if case["group"] != group:
            continue
        floors = r.floors(case) if group in ("elementwise", "dtype") else None
        for row in case["impls"]:
            call = row["call"].replace("|", "\\|")
            impl = f"{row['name']}: `{call}`"
            if "alternate_call" in row:
                impl += f", in turn with `{row['alternate_call']}`"
            peak = ""
            if "peak_ratio" in row:
                bound = "≤ " if row.get("peak_upper_bound") else ""
                peak = f"{bound}{row['peak_ratio']:.2f}× ({_mib(row['peak_bytes'])})"
            elif "peak_error" in row:
                peak = "probe failed"
            if "median_s" not in row:
                why = row.get("skipped") or row.get("error", "")
                lines.append(f"| {case['id']} | {impl} | {row['buffer']} | {why} | | | | | | |")
                continue
            versus = ""
            limits = ""
            if "alternate_ratio" in row:
                what = "time" if row.get("alternate_scale", 1.0) == 1.0 else "time per element"
                versus = f"{_x(row['alternate_ratio'])} ({what} ÷ the other's"
                if "alternate_ratio_range" in row:
                    lo, hi = row["alternate_ratio_range"]
                    versus += f"; range {lo:.2f}–{hi:.2f}"
                versus += ")"
            elif row["peer"] == "winit":
                if floors and row["name"] == "winit":
                    rng_floor, write_floor = floors
                    ns = row["ns_per_element"]
                    limits = f"{ns / rng_floor:.1f}× · {ns / write_floor:.1f}×"
            else:
                base = r.median(case["id"], baseline_name(row))
                versus = _x(row["median_s"] / base) if base else ""
            compile_ms = f"{row['compile_s'] * 1e3:.0f}" if "compile_s" in row else ""
            times = row["times_s"]
            spread = f"{_ms(min(times))}–{_ms(max(times))} ({len(times)})"
            lines.append(
                f"| {case['id']} | {impl} | {row['buffer']} | {_ms(row['median_s'])} | {spread} | "
                f"{row['ns_per_element']:.2f} | {versus} | {limits} | {peak} | {compile_ms} |"
            )
    return lines


GROUPS = [
    ("elementwise", "Elementwise initializers, float32"),
    ("dtype", "Other dtypes"),
    ("orthogonal", "Orthogonal (Haar, torch layout: rows are units)"),
    ("sparse", "Sparse (sparsity 0.9, std 0.01)"),
    ("model", "Whole networks"),
    ("blocks", "Blocks (index=) against the whole weight, and seeking"),
    ("files", "Out-of-core writes (winit.files) against numpy.save and the disk"),
    ("dask", "Dask (winit.dask, threaded scheduler) against winit alone and dask.array.random"),
    ("bridge", "Whole models through winit.torch against transformers' and torch's own init"),
]


def _throughput(r: Results, group: str) -> list[str]:
    """GB/s of each row of the cases of ``group``, and its fraction of the
    case's ``disk`` row (the disk's write bandwidth, measured the same way)."""
    lines = ["| case | implementation | GB/s | ÷ disk |", "|---|---|---:|---:|"]
    for case in r.cases.values():
        if case["group"] != group:
            continue
        disk = r.median(case["id"], "disk")
        for row in case["impls"]:
            if "median_s" in row:
                rate = case["output_bytes"] / row["median_s"] / 1e9
                share = f"{disk / row['median_s']:.2f}" if disk else "—"
                lines.append(f"| {case['id']} | {row['name']} | {rate:.2f} | {share} |")
    return lines


def markdown(data: dict[str, Any]) -> str:
    r = Results(data)
    m = data["machine"]
    # docs/benchmarks.md includes everything after the marker
    lines = ["# winit benchmark results", "", "<!-- results -->", ""]
    lines += _machine(m, data["settings"])
    lines += [
        "",
        "Medians of back-to-back repeats after a warm-up; ns/elem = median time ÷ elements. "
        "**peer ÷ winit** is the peer's time over winit's (above 1: winit is faster), with "
        "like compared to like: rows that fill a preallocated buffer (`out=`, `in place`) "
        "against `winit` (out=), rows that allocate (`fresh`) against `winit fresh`. "
        "**winit ÷ limits** is winit's time over the time that drawing the stream words it "
        "consumes (from its engine's generator) and writing its bytes would take at the "
        "measured limits. **peak mem ÷ output** is "
        "the rise of peak RSS in a fresh process for one call that allocates its result. "
        "Method: docs/benchmarks.md.",
        "",
        "## Targets",
        "",
        "| target | measured | status |",
        "|---|---:|---|",
    ]
    for t in data["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {t['status']} |")
    if data.get("limits"):
        lines += ["", "## Limits", "", *_limits(data["limits"])]
    label = _sizes(r.quick)["16M"]
    lines += [
        "",
        f"## Summary: float32, {label} elements, ns/element (peer ÷ winit)",
        "",
        *_summary(r),
    ]
    for group, title in GROUPS:
        if any(c["group"] == group for c in data["cases"]):
            lines += ["", f"## {title}", "", *_detail(r, group)]
            if group == "files":
                lines += ["", *_throughput(r, group)]
    notes = [f"- {c['id']}: {n}" for c in data["cases"] for n in c.get("notes", [])]
    notes += [f"- {n}" for n in data.get("notes", [])]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def targets_text(data: dict[str, Any]) -> str:
    width = max((len(t["target"]) for t in data["targets"]), default=10)
    rows = [f"{t['target']:<{width}}  {t['measured']:>28}  {t['status']}" for t in data["targets"]]
    return "\n".join(["targets", "-------", *rows])
