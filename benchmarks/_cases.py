"""The benchmark cases and, for each, the winit call and every peer's equivalent.

A :class:`Case` is one weight (or one whole network) to initialize; each of its
:class:`Impl` rows knows how to make a zero-argument callable that initializes
it once. ``make(prealloc=True)`` prepares and page-faults an output buffer first
where the implementation can fill one in place (winit ``out=``, torch's in-place
``*_`` functions, numpy's ``out=``); ``make(prealloc=False)`` allocates the
result in every call, which is what the memory probes measure. Rows whose
``buffer`` is ``fresh`` allocate in every call either way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _models as models
import _peers as peers
import numpy as np

import winit

TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of N(0, 1) truncated to [-2, 2]."""
TRUNCATED_MASS = 0.9544997361036416
"""P(|Z| <= 2) for a standard normal Z."""

Call = Callable[[], Any]


@dataclass
class Impl:
    """One way to initialize a case: winit's or a peer's."""

    name: str  # row label: 'winit', 'winit fresh', 'torch', 'jax', 'numpy naive', ...
    peer: str  # the package it needs
    call: str  # what is called, for the report
    buffer: str  # 'out=', 'in place', 'fresh', 'fresh (XLA)'
    make: Callable[[bool], tuple[Call, float | None]]  # -> (one call, compile seconds)
    memory: bool = True  # probe its peak memory (duplicates of another row's probe: False)
    # a second implementation timed in alternation with this one (call, make): the
    # row then also gets the median ratio of each call's time to the next one's
    alternate: tuple[str, Callable[[bool], tuple[Call, float | None]]] | None = None
    # the ratio is reported times this (a block's elements against the whole's: per element)
    alternate_scale: float = 1.0


@dataclass
class Case:
    id: str
    group: str  # 'elementwise', 'dtype', 'orthogonal', 'sparse', 'model'
    init: str
    dtype: str
    elements: int
    itemsize: int
    repeats: int
    impls: list[Impl]
    memory: str = ""  # '' none, 'winit' winit rows only, 'all' every row
    kind: str = ""  # elementwise cases: 'normal', 'uniform' or 'truncated_normal'
    shape: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def output_bytes(self) -> int:
        return self.elements * self.itemsize


def _prefaulted(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    buf = np.empty(shape, dtype=dtype)
    buf.fill(0)  # touch every page now, not in the timed call
    return buf


def _winit_rows(
    init: winit.Initializer, shape: tuple[int, ...], dtype: str, threads: int
) -> list[Impl]:
    def make(prealloc: bool) -> tuple[Call, None]:
        rng = np.random.default_rng(0)
        if prealloc:
            buf = _prefaulted(shape, dtype)
            return (lambda: init(out=buf, rng=rng, threads=threads)), None
        return (lambda: init(shape, rng, dtype=dtype, threads=threads)), None

    call = f"{init!r}"
    return [
        Impl("winit", "winit", f"{call}(out=buf)", "out=", make),
        Impl("winit fresh", "winit", call, "fresh", lambda _: make(False), memory=False),
    ]


def _alternating_row(
    init: winit.Initializer, name: str, shape: tuple[int, ...], dtype: str, threads: int
) -> Impl:
    """winit's truncated normal timed in alternation with the normal it is measured
    against (SPEC[name]), so that both see the same state of the machine."""
    base = _winit_rows(init, shape, dtype, threads)[0]
    normal = getattr(winit, name).configure(**SPEC[name].config)
    other = _winit_rows(normal, shape, dtype, threads)[0]
    return Impl(
        "winit ÷ normal", "winit", base.call, "out=", base.make, memory=False,
        alternate=(other.call, other.make),
    )  # fmt: skip


def _torch_row(
    label: str, fill: Callable[[Any, Any], Any], shape: tuple[int, ...], dtype: str, threads: int
) -> Impl:
    """``fill(torch.nn.init, tensor)`` initializes ``tensor`` in place."""

    def make(prealloc: bool) -> tuple[Call, None]:
        torch = peers.torch(threads)
        dt = getattr(torch, dtype)
        nn_init = torch.nn.init
        if prealloc:
            t = torch.empty(shape, dtype=dt)
            t.fill_(0)
            return (lambda: fill(nn_init, t)), None
        return (lambda: fill(nn_init, torch.empty(shape, dtype=dt))), None

    return Impl("torch", "torch", f"torch.nn.init.{label}", "in place", make)


def _jax_row(label: str, build: Callable[[Any], Callable[[Any], Any]]) -> Impl:
    """``build(jax)`` returns a function of a key that returns the array(s)."""

    def make(_: bool) -> tuple[Call, float]:
        jax = peers.jax()
        start = time.perf_counter()
        compiled, key = peers.jax_compile(build(jax))
        compile_s = time.perf_counter() - start
        return (lambda: jax.block_until_ready(compiled(key))), compile_s

    return Impl("jax", "jax", label, "fresh (XLA)", make)


# -- elementwise: normal, uniform, truncated normal and the fan-based families -----------


@dataclass(frozen=True)
class Spec:
    """An elementwise initializer on a square n x n weight (fan_in = fan_out = n)."""

    name: str
    config: dict[str, Any]
    kind: str
    scale: Callable[[int], float]  # n -> std of the (untruncated) normal, or uniform bound
    torch_label: str
    torch_fill: Callable[[Any, Any, float], Any]  # (nn_init, tensor, scale)
    jax_label: str
    jax_init: Callable[[Any, float], Any]  # (jax, scale) -> initializer(key, shape, dtype)


def _normal_t(i: Any, t: Any, s: float) -> Any:
    return i.normal_(t, 0.0, s)


def _uniform_t(i: Any, t: Any, s: float) -> Any:
    return i.uniform_(t, -s, s)


def _trunc_t(i: Any, t: Any, s: float) -> Any:
    return i.trunc_normal_(t, 0.0, s, -2.0 * s, 2.0 * s)


def _jax_uniform(jax: Any, s: float) -> Any:
    return lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -s, s)


def _vs(scale: float, mode: str) -> Callable[[Any, float], Any]:
    return lambda jax, _: jax.nn.initializers.variance_scaling(scale, mode, "normal")


def _named(name: str) -> Callable[[Any, float], Any]:
    return lambda jax, _: getattr(jax.nn.initializers, name)()


_TRUNC_LABEL = "trunc_normal_(t, 0, s, -2s, 2s)"

SPECS = [
    Spec(
        "normal", {"std": 0.02}, "normal", lambda n: 0.02,
        "normal_(t, 0, 0.02)", _normal_t,
        "nn.initializers.normal(0.02)", lambda jax, s: jax.nn.initializers.normal(s),
    ),
    Spec(
        "uniform", {"low": -0.05, "high": 0.05}, "uniform", lambda n: 0.05,
        "uniform_(t, -0.05, 0.05)", _uniform_t,
        "random.uniform(key, shape, dtype, -0.05, 0.05)", _jax_uniform,
    ),
    Spec(
        "truncated_normal", {"std": 0.02}, "truncated_normal", lambda n: 0.02,
        "trunc_normal_(t, 0, 0.02, -0.04, 0.04)", _trunc_t,
        "nn.initializers.truncated_normal(0.02)",
        lambda jax, s: jax.nn.initializers.truncated_normal(s),
    ),
    Spec(
        "he_normal", {}, "normal", lambda n: math.sqrt(2 / n),
        "kaiming_normal_(t, nonlinearity='relu')",
        lambda i, t, s: i.kaiming_normal_(t, nonlinearity="relu"),
        "nn.initializers.variance_scaling(2, 'fan_in', 'normal')", _vs(2.0, "fan_in"),
    ),
    Spec(
        "he_uniform", {}, "uniform", lambda n: math.sqrt(6 / n),
        "kaiming_uniform_(t, nonlinearity='relu')",
        lambda i, t, s: i.kaiming_uniform_(t, nonlinearity="relu"),
        "nn.initializers.he_uniform()", _named("he_uniform"),
    ),
    Spec(
        "he_truncated_normal", {}, "truncated_normal",
        lambda n: math.sqrt(2 / n) / TRUNCATED_STD,
        _TRUNC_LABEL, _trunc_t,
        "nn.initializers.he_normal() (truncated)", _named("he_normal"),
    ),
    Spec(
        "glorot_normal", {}, "normal", lambda n: math.sqrt(1 / n),
        "xavier_normal_(t)", lambda i, t, s: i.xavier_normal_(t),
        "nn.initializers.variance_scaling(1, 'fan_avg', 'normal')", _vs(1.0, "fan_avg"),
    ),
    Spec(
        "glorot_uniform", {}, "uniform", lambda n: math.sqrt(3 / n),
        "xavier_uniform_(t)", lambda i, t, s: i.xavier_uniform_(t),
        "nn.initializers.glorot_uniform()", _named("glorot_uniform"),
    ),
    Spec(
        "glorot_truncated_normal", {}, "truncated_normal",
        lambda n: math.sqrt(1 / n) / TRUNCATED_STD,
        _TRUNC_LABEL, _trunc_t,
        "nn.initializers.glorot_normal() (truncated)", _named("glorot_normal"),
    ),
    Spec(
        "lecun_normal", {}, "normal", lambda n: math.sqrt(1 / n),
        "kaiming_normal_(t, nonlinearity='linear')",
        lambda i, t, s: i.kaiming_normal_(t, nonlinearity="linear"),
        "nn.initializers.variance_scaling(1, 'fan_in', 'normal')", _vs(1.0, "fan_in"),
    ),
    Spec(
        "lecun_uniform", {}, "uniform", lambda n: math.sqrt(3 / n),
        "kaiming_uniform_(t, nonlinearity='linear')",
        lambda i, t, s: i.kaiming_uniform_(t, nonlinearity="linear"),
        "nn.initializers.lecun_uniform()", _named("lecun_uniform"),
    ),
    Spec(
        "lecun_truncated_normal", {}, "truncated_normal",
        lambda n: math.sqrt(1 / n) / TRUNCATED_STD,
        _TRUNC_LABEL, _trunc_t,
        "nn.initializers.lecun_normal() (truncated)", _named("lecun_normal"),
    ),
]  # fmt: skip
SPEC = {spec.name: spec for spec in SPECS}
NORMAL_OF = {spec.name: spec.name.replace("truncated_normal", "normal") for spec in SPECS}
"""The normal each truncated normal is measured against (same std before truncation)."""

GPT2_MINI = "gpt2-mini (2 layers, 256 wide, vocab 8192)"
SCIPY_MAX_ELEMENTS = 1 << 20  # scipy.stats.truncnorm is slow: 1M elements only


def _numpy_out_row(
    call: str, fill: Callable[[np.random.Generator, np.ndarray], np.ndarray],
    shape: tuple[int, ...], dt: np.dtype,
) -> Impl:  # fmt: skip
    """``fill(rng, a)`` fills the array ``a`` in place and returns it."""

    def make(prealloc: bool) -> tuple[Call, None]:
        rng = np.random.default_rng(0)
        if prealloc:
            buf = _prefaulted(shape, dt)
            return (lambda: fill(rng, buf)), None
        return (lambda: fill(rng, np.empty(shape, dt))), None

    return Impl("numpy out=", "numpy", call, "out=", make)


def _numpy_naive_row(call: str, draw: Callable[[np.random.Generator], np.ndarray]) -> Impl:
    def make(_: bool) -> tuple[Call, None]:
        rng = np.random.default_rng(0)
        return (lambda: draw(rng)), None

    return Impl("numpy naive", "numpy", call, "fresh", make)


def _numpy_rows(spec: Spec, shape: tuple[int, ...], dtype: str) -> list[Impl]:
    s = spec.scale(shape[0])
    dt = np.dtype(dtype)
    native = dt in (np.float32, np.float64)  # what numpy's Generator can fill directly
    rows = []
    if spec.kind == "normal":

        def normal(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
            rng.standard_normal(out=a, dtype=dt)
            a *= dt.type(s)
            return a

        rows.append(
            _numpy_naive_row(
                f"rng.normal(0, s, shape).astype({dtype})",
                lambda rng: rng.normal(0.0, s, shape).astype(dt, copy=False),
            )
        )
        if native:
            call = f"rng.standard_normal(out=buf, dtype={dtype}); buf *= s"
            rows.append(_numpy_out_row(call, normal, shape, dt))
    elif spec.kind == "uniform":

        def uniform(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
            rng.random(out=a, dtype=dt)
            a *= dt.type(2 * s)
            a -= dt.type(s)
            return a

        rows.append(
            _numpy_naive_row(
                f"rng.uniform(-a, a, shape).astype({dtype})",
                lambda rng: rng.uniform(-s, s, shape).astype(dt, copy=False),
            )
        )
        if native:
            call = f"rng.random(out=buf, dtype={dtype}); buf *= 2a; buf -= a"
            rows.append(_numpy_out_row(call, uniform, shape, dt))
    elif math.prod(shape) <= SCIPY_MAX_ELEMENTS:

        def scipy_make(_: bool) -> tuple[Call, None]:
            from scipy.stats import truncnorm

            rng = np.random.default_rng(0)

            def draw() -> np.ndarray:
                x = truncnorm.rvs(-2, 2, scale=s, size=shape, random_state=rng)
                return x.astype(dt, copy=False)

            return draw, None

        call = f"scipy.stats.truncnorm.rvs(-2, 2, scale=s, size=shape).astype({dtype})"
        rows.append(Impl("scipy", "scipy", call, "fresh", scipy_make))
    return rows


def elementwise_case(
    spec: Spec, n: int, dtype: str, label: str, repeats: int, threads: int, memory: str, group: str
) -> Case:
    shape = (n, n)
    s = spec.scale(n)
    init = getattr(winit, spec.name).configure(**spec.config)
    impls = _winit_rows(init, shape, dtype, threads)
    if spec.kind == "truncated_normal":
        impls.append(_alternating_row(init, NORMAL_OF[spec.name], shape, dtype, threads))
    impls.append(
        _torch_row(spec.torch_label, lambda i, t: spec.torch_fill(i, t, s), shape, dtype, threads)
    )

    def jax_build(jax: Any) -> Callable[[Any], Any]:
        initializer = spec.jax_init(jax, s)
        dt = getattr(jax.numpy, dtype)
        return lambda key: initializer(key, shape, dt)

    impls.append(_jax_row(spec.jax_label, jax_build))
    impls += _numpy_rows(spec, shape, dtype)
    return Case(
        id=f"{spec.name}/{dtype}/{label}",
        group=group,
        init=spec.name,
        dtype=dtype,
        elements=n * n,
        itemsize=np.dtype(dtype).itemsize,
        repeats=repeats,
        impls=impls,
        memory=memory,
        kind=spec.kind,
        shape=shape,
    )


# -- orthogonal and sparse ----------------------------------------------------------------------


def orthogonal_case(shape: tuple[int, int], repeats: int, threads: int, memory: str) -> Case:
    """Rows = output units (torch layout); every peer does the QR of the same tall
    (or square) matrix."""
    init = winit.orthogonal.configure(layout="torch")
    impls = _winit_rows(init, shape, "float32", threads)
    impls.append(
        _torch_row("orthogonal_(t)", lambda i, t: i.orthogonal_(t), shape, "float32", threads)
    )

    def jax_build(jax: Any) -> Callable[[Any], Any]:
        initializer = jax.nn.initializers.orthogonal()
        return lambda key: initializer(key, shape, jax.numpy.float32)

    impls.append(_jax_row("nn.initializers.orthogonal()", jax_build))

    def numpy_make(_: bool) -> tuple[Call, None]:
        rng = np.random.default_rng(0)

        def draw() -> np.ndarray:
            q, r = np.linalg.qr(rng.standard_normal(shape, dtype=np.float32))
            q *= np.sign(np.diagonal(r))
            return q

        return draw, None

    call = "q, r = np.linalg.qr(rng.standard_normal(shape, dtype=float32)); q *= sign(diag(r))"
    impls.append(Impl("numpy naive", "numpy", call, "fresh", numpy_make))
    rows, cols = shape
    return Case(
        id=f"orthogonal/float32/{rows}x{cols}",
        group="orthogonal",
        init="orthogonal",
        dtype="float32",
        elements=rows * cols,
        itemsize=4,
        repeats=repeats,
        impls=impls,
        memory=memory,
        shape=shape,
    )


def sparse_case(n: int, repeats: int, threads: int, memory: str) -> Case:
    shape = (n, n)
    init = winit.sparse.configure(sparsity=0.9, std=0.01)
    impls = _winit_rows(init, shape, "float32", threads)
    impls.append(
        _torch_row(
            "sparse_(t, 0.9, std=0.01)",
            lambda i, t: i.sparse_(t, 0.9, std=0.01),
            shape,
            "float32",
            threads,
        )
    )
    return Case(
        id=f"sparse/float32/{n}x{n}",
        group="sparse",
        init="sparse",
        dtype="float32",
        elements=n * n,
        itemsize=4,
        repeats=repeats,
        impls=impls,
        memory=memory,
        shape=shape,
    )


# -- whole networks -------------------------------------------------------------------------------


def _winit_param(p: models.Param) -> winit.Initializer:
    if p.rule == "normal":
        return winit.normal.configure(std=p.value)
    if p.rule == "zeros":
        return winit.zeros
    if p.rule == "ones":
        return winit.ones
    if p.rule == "conv":
        return winit.he_normal.configure(mode="fan_out", layout="torch")
    if p.rule == "linear":
        # Var U(-b, b) = b²/3 with b = 1/sqrt(fan_in): scale 1/3
        return winit.variance_scaling.configure(
            scale=1 / 3, mode="fan_in", distribution="uniform", layout="torch"
        )
    if p.rule == "bias":
        return winit.uniform.configure(low=-p.value, high=p.value)
    raise ValueError(p.rule)


def _torch_param(nn_init: Any, t: Any, p: models.Param) -> Any:
    if p.rule == "normal":
        return nn_init.normal_(t, 0.0, p.value)
    if p.rule == "zeros":
        return nn_init.zeros_(t)
    if p.rule == "ones":
        return nn_init.ones_(t)
    if p.rule == "conv":
        return nn_init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    if p.rule == "linear":
        return nn_init.kaiming_uniform_(t, a=math.sqrt(5))
    if p.rule == "bias":
        return nn_init.uniform_(t, -p.value, p.value)
    raise ValueError(p.rule)


def _jax_param(jax: Any, key: Any, p: models.Param) -> Any:
    f32 = jax.numpy.float32
    ini = jax.nn.initializers
    if p.rule == "normal":
        return ini.normal(p.value)(key, p.shape, f32)
    if p.rule == "zeros":
        return jax.numpy.zeros(p.shape, f32)
    if p.rule == "ones":
        return jax.numpy.ones(p.shape, f32)
    if p.rule == "conv":
        vs = ini.variance_scaling(2.0, "fan_out", "normal", in_axis=1, out_axis=0)
        return vs(key, p.shape, f32)
    if p.rule == "linear":
        vs = ini.variance_scaling(1 / 3, "fan_in", "uniform", in_axis=1, out_axis=0)
        return vs(key, p.shape, f32)
    if p.rule == "bias":
        return jax.random.uniform(key, p.shape, f32, -p.value, p.value)
    raise ValueError(p.rule)


def _numpy_param(rng: np.random.Generator, a: np.ndarray, p: models.Param) -> np.ndarray:
    if p.rule in ("normal", "conv"):
        std = p.value if p.rule == "normal" else math.sqrt(2 / (a.shape[0] * a[0, 0].size))
        rng.standard_normal(out=a, dtype=np.float32)
        a *= np.float32(std)
    elif p.rule in ("zeros", "ones"):
        a.fill(1.0 if p.rule == "ones" else 0.0)
    else:
        rng.random(out=a, dtype=np.float32)
        a *= np.float32(2 * p.value)
        a -= np.float32(p.value)
    return a


def model_case(name: str, params: list[models.Param], repeats: int, threads: int) -> Case:
    shapes = [p.shape for p in params]
    inits = [_winit_param(p) for p in params]

    def winit_make(prealloc: bool) -> tuple[Call, None]:
        rng = np.random.default_rng(0)
        if prealloc:
            bufs = [_prefaulted(s, np.float32) for s in shapes]

            def fill() -> list[np.ndarray]:
                return [
                    f(out=b, rng=rng, threads=threads) for f, b in zip(inits, bufs, strict=True)
                ]

            return fill, None
        return (
            lambda: [f(s, rng, threads=threads) for f, s in zip(inits, shapes, strict=True)]
        ), None

    def torch_make(prealloc: bool) -> tuple[Call, None]:
        torch = peers.torch(threads)
        nn_init = torch.nn.init
        if prealloc:
            ts = [torch.empty(s).fill_(0) for s in shapes]
            return (
                lambda: [_torch_param(nn_init, t, p) for t, p in zip(ts, params, strict=True)]
            ), None

        def fresh() -> list[Any]:
            return [_torch_param(nn_init, torch.empty(p.shape), p) for p in params]

        return fresh, None

    def jax_build(jax: Any) -> Callable[[Any], Any]:
        def init_all(key: Any) -> list[Any]:
            keys = jax.random.split(key, len(params))
            return [_jax_param(jax, k, p) for k, p in zip(keys, params, strict=True)]

        return init_all

    def numpy_make(prealloc: bool) -> tuple[Call, None]:
        rng = np.random.default_rng(0)
        if prealloc:
            bufs = [_prefaulted(s, np.float32) for s in shapes]
            return (
                lambda: [_numpy_param(rng, a, p) for a, p in zip(bufs, params, strict=True)]
            ), None
        return (lambda: [_numpy_param(rng, np.empty(p.shape, np.float32), p) for p in params]), None

    impls = [
        Impl("winit", "winit", "a configured winit initializer per tensor, out=buf", "out=",
             winit_make),
        Impl("winit fresh", "winit", "a configured winit initializer per tensor", "fresh",
             lambda _: winit_make(False), memory=False),
        Impl("torch", "torch", "torch.nn.init.*_ per tensor (as the reference code)",
             "in place", torch_make),
        Impl("torch fresh", "torch", "torch.empty(shape) + torch.nn.init.*_ per tensor",
             "fresh", lambda _: torch_make(False), memory=False),
        _jax_row("one jax.jit over every tensor (nn.initializers, random.split)", jax_build),
        Impl("numpy out=", "numpy", "rng.standard_normal/random(out=buf) per tensor, scaled",
             "out=", numpy_make),
    ]  # fmt: skip
    count = models.parameter_count(params)
    return Case(
        id=f"{name}/float32",
        group="model",
        init=name,
        dtype="float32",
        elements=count,
        itemsize=4,
        repeats=repeats,
        impls=impls,
        memory="all",
        notes=[f"{len(params)} tensors, {count:,} parameters"],
    )


# -- the catalog ---------------------------------------------------------------------------------

SIZES = {"1M": 1024, "16M": 4096, "64M": 8192}
DTYPE_SPECS = ("normal", "uniform", "truncated_normal")


QUICK_SPECS = ("normal", "uniform", "truncated_normal", "he_normal", "he_uniform",
               "he_truncated_normal")  # fmt: skip
QUICK_DTYPES = (("normal", "float16"), ("truncated_normal", "float64"))


def catalog(threads: int, quick: bool) -> list[Case]:
    """Every case of a full run, in the order they are timed; with ``quick``, a
    smoke test of every kind of case at small sizes."""
    import _cases_blocks  # these build on this module
    import _cases_bridges
    import _cases_dask
    import _cases_files

    if quick:
        return [
            *_quick_catalog(threads),
            *_cases_dask.cases(threads, quick),
            *_cases_files.cases(threads, quick),
            *_cases_bridges.cases(threads, quick),
        ]
    cases: list[Case] = []
    for label, n in SIZES.items():
        repeats = {"1M": 11, "16M": 9, "64M": 5}[label]
        memory = {"1M": "", "16M": "winit", "64M": "all"}[label]
        for spec in SPECS:
            cases.append(
                elementwise_case(spec, n, "float32", label, repeats, threads, memory, "elementwise")
            )
    for dtype in ("float16", "float64"):
        for name in DTYPE_SPECS:
            cases.append(
                elementwise_case(SPEC[name], 4096, dtype, "16M", 9, threads, "winit", "dtype")
            )
    for shape in [(512, 512), (1024, 1024), (2048, 2048), (4096, 4096), (8192, 1024)]:
        big = shape[0] * shape[1] >= 2048 * 2048
        cases.append(orthogonal_case(shape, 5 if big else 9, threads, "all" if big else ""))
    cases.append(sparse_case(1024, 9, threads, ""))
    cases.append(sparse_case(4096, 5, threads, "all"))
    cases.append(model_case("gpt2-small", models.gpt2(), 5, threads))
    cases.append(model_case("resnet50", models.resnet(), 5, threads))
    cases += _cases_blocks.cases(threads, quick=False)
    cases += _cases_dask.cases(threads, quick)
    cases += _cases_files.cases(threads, quick)
    cases += _cases_bridges.cases(threads, quick)
    return cases


def _quick_catalog(threads: int) -> list[Case]:
    import _cases_blocks

    cases = [
        elementwise_case(
            SPEC[name], 1024, "float32", "1M", 5, threads,
            "all" if name == "he_normal" else "", "elementwise",
        )
        for name in QUICK_SPECS
    ]  # fmt: skip
    for name, dtype in QUICK_DTYPES:
        cases.append(elementwise_case(SPEC[name], 1024, dtype, "1M", 3, threads, "", "dtype"))
    cases.append(orthogonal_case((512, 512), 3, threads, ""))
    cases.append(orthogonal_case((1024, 256), 3, threads, ""))
    cases.append(sparse_case(512, 3, threads, ""))
    gpt2 = model_case(GPT2_MINI, models.gpt2(2, 256, 8192, 256), 3, threads)
    resnet = model_case("resnet-bottleneck-1111", models.resnet((1, 1, 1, 1)), 3, threads)
    resnet.memory = ""
    return [*cases, gpt2, resnet, *_cases_blocks.cases(threads, quick=True)]


def find(cases: list[Case], case_id: str, impl_name: str) -> tuple[Case, Impl]:
    for case in cases:
        if case.id == case_id:
            for impl in case.impls:
                if impl.name == impl_name:
                    return case, impl
    msg = f"no case {case_id!r} with an implementation {impl_name!r}"
    raise KeyError(msg)
