r"""Layer-sequential unit variance (LSUV, Mishkin & Matas 2015): the framework-neutral core.

The algorithm, its two published conventions and its report live here; a
framework supplies a :class:`Network`: "forward to layer ``i`` and give the
moments of its output", "scale layer ``i``'s weight" and "shift layer ``i``'s
bias". :func:`winit.torch.lsuv_` and :func:`winit.propagation.lsuv` are the two
networks.

For each layer in forward order (every earlier layer already rescaled), with
:math:`v` the variance of the layer's output over the whole batch (every
sample, unit and position, population variance, float64), and :math:`v^*` the
``target``:

.. math::

    W \leftarrow W \sqrt{v^* / v}

repeated until the convention's criterion holds or ``max_iter`` rescalings
were made:

=============  ===============================  ========  =========  ===========
convention     criterion                        tol       max_iter   center
=============  ===============================  ========  =========  ===========
``'caffe'``    :math:`|v - v^*| \le` tol        0.02      20         no
``'pytorch'``  :math:`|\sqrt v - \sqrt{v^*}|`   0.1       10         yes
               :math:`\le` tol
=============  ===============================  ========  =========  ===========

``'caffe'`` is the authors' reference code (``tools/extra/lsuv_init.py`` of
ducha-aiki/LSUVinit, the code of the paper's experiments; its ``margin``
0.02 on the variance and ``max_iter`` 20) and the variance criterion of the
paper's Algorithm 1; ``'pytorch'`` is their later PyTorch package
(ducha-aiki/LSUV-pytorch: ``std_tol`` 0.1 on the standard deviation,
``max_attempts`` 10), which also moves the output's mean to 0 through the
layer's bias (``center``). Both originals test the cap after the rescaling
(``> max_iter``), so they may make one rescaling more; here ``max_iter`` is the
exact maximum.

What both originals do, and this core too: the variance is about the output's
mean (numpy's ``var``/``std`` of the whole blob; the mean is subtracted, it is
not the second moment); biases start at zero (the Caffe experiments' constant
bias filler; the PyTorch package zeroes them); the first reading is taken
before any rescaling, so a layer already within tolerance is left alone. The
differences, each deliberate: the factor is :math:`\sqrt{v^*/v}` (the Caffe
script divides by :math:`\sqrt v`, right only for :math:`v^* = 1`); a zero or
non-finite variance stops the layer with a warning (the PyTorch package
divides by :math:`\sigma + 10^{-8}` and the Caffe script by zero); centering
adds :math:`-(f(m - \bar b) + \bar b)` to the bias, :math:`f` the factor,
:math:`m` the output's mean and :math:`\bar b` the bias's mean, which makes the
new mean exactly 0 (the package adds :math:`-f m`, exact only while
:math:`\bar b = 0`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import _validation as check

__all__ = ["CONVENTIONS", "LSUVReport", "LSUVRow", "LSUVWarning", "Network", "resolve", "run"]


class LSUVWarning(UserWarning):
    """LSUV left a layer outside its tolerance: it did not converge within
    ``max_iter`` rescalings, its output has zero or non-finite variance (no
    rescaling can fix that), or the forward pass never reached it."""


@dataclass(frozen=True)
class _Convention:
    on: str  # 'variance' or 'std': what tol bounds
    tol: float
    max_iter: int
    center: bool


CONVENTIONS: dict[str, _Convention] = {
    "caffe": _Convention("variance", 0.02, 20, center=False),
    "pytorch": _Convention("std", 0.1, 10, center=True),
}
"""The published conventions: the criterion, its tolerance, the iteration cap,
and whether the output's mean is moved to 0 through the bias."""

DEFAULT_CONVENTION = "caffe"


@dataclass(frozen=True)
class Settings:
    """Validated LSUV settings."""

    convention: str
    on: str
    tol: float
    max_iter: int
    target: float
    center: bool

    def converged(self, variance: float) -> bool:
        if self.on == "variance":
            return abs(variance - self.target) <= self.tol
        return abs(math.sqrt(variance) - math.sqrt(self.target)) <= self.tol


def resolve(
    convention: Any = DEFAULT_CONVENTION,
    tol: Any = None,
    max_iter: Any = None,
    target: Any = 1.0,
    center: Any = None,
) -> Settings:
    """The settings of a convention, with any of them overridden; validated."""
    name = check.one_of("convention", convention, tuple(CONVENTIONS))
    base = CONVENTIONS[name]
    if center is not None and not isinstance(center, bool):
        msg = f"center must be True, False or None (the convention's); got {center!r}"
        raise TypeError(msg)
    return Settings(
        convention=name,
        on=base.on,
        tol=base.tol if tol is None else check.real("tol", tol, minimum=0, strict=True),
        max_iter=base.max_iter
        if max_iter is None
        else check.integer("max_iter", max_iter, minimum=0),
        target=check.real("target", target, minimum=0, strict=True),
        center=base.center if center is None else center,
    )


class Network(Protocol):
    """What LSUV needs of a network: its layers, in forward order."""

    def paths(self) -> Sequence[str]:
        """The layers' names, in forward order."""
        ...

    def moments(self, i: int) -> tuple[float, float] | None:
        """Forward the batch as far as layer ``i`` (every earlier layer as it now
        is) and give the mean and (population) variance of its output; None if
        the forward pass never reaches it."""
        ...

    def scale(self, i: int, factor: float) -> None:
        """Multiply layer ``i``'s weight by ``factor``."""
        ...

    def bias_mean(self, i: int) -> float | None:
        """The mean of layer ``i``'s bias entries; None if it has no bias."""
        ...

    def shift(self, i: int, delta: float) -> None:
        """Add ``delta`` to every entry of layer ``i``'s bias."""
        ...


@dataclass(frozen=True)
class LSUVRow:
    """What LSUV did to one layer.

    Attributes
    ----------
    path : str
        The layer.
    iterations : int
        Rescalings made (0 if it was already within tolerance).
    initial_variance : float
        The variance of its output before LSUV rescaled it (NaN if never reached).
    variance : float
        The variance of its output when LSUV left it.
    scale : float
        The product of the factors its weight was multiplied by.
    shift : float
        The sum of what was added to its bias (0 unless ``center``).
    converged : bool
        Whether the convention's criterion held when LSUV left it.
    note : str
        Why it did not converge ('' if it did): 'max_iter', 'zero variance',
        'non-finite variance' or 'not reached'.
    """

    path: str
    iterations: int
    initial_variance: float
    variance: float
    scale: float
    shift: float
    converged: bool
    note: str = ""

    @property
    def std(self) -> float:
        """The standard deviation of its output when LSUV left it."""
        return math.sqrt(self.variance) if self.variance >= 0 else math.nan


@dataclass(frozen=True)
class LSUVReport:
    """The result of an LSUV run: its settings and one :class:`LSUVRow` per layer,
    in forward order. ``str(report)`` is a table."""

    convention: str
    criterion: str
    tol: float
    max_iter: int
    target: float
    center: bool
    rows: tuple[LSUVRow, ...]

    @property
    def converged(self) -> bool:
        """Whether every layer ended within tolerance."""
        return all(row.converged for row in self.rows)

    def __getitem__(self, path: str) -> LSUVRow:
        for row in self.rows:
            if row.path == path:
                return row
        layers = [r.path for r in self.rows]
        msg = f"path={path!r} is not a layer of this report; its layers: {layers}"
        raise KeyError(msg)

    def summary(self) -> str:
        """A table: one row per layer."""
        from .propagation import _format_table

        header = ["layer", "iters", "var before", "var", "std", "scale", *(["shift"] * self.center)]
        table = [[*header, "converged"]]
        for r in self.rows:
            row = [r.path, str(r.iterations), f"{r.initial_variance:.4g}", f"{r.variance:.4g}"]
            row += [f"{r.std:.4g}", f"{r.scale:.4g}", *([f"{r.shift:.3g}"] * self.center)]
            table.append([*row, "yes" if r.converged else f"no ({r.note})"])
        done = sum(r.converged for r in self.rows)
        goal = "target" if self.criterion == "var" else "sqrt(target)"
        title = (
            f"LSUV · {self.convention} convention: |{self.criterion} - {goal}| <= {self.tol:g}, "
            f"at most {self.max_iter} rescalings · target variance {self.target:g} · "
            f"{done} of {len(self.rows)} layers converged"
        )
        return "\n".join([title, *_format_table(table, left=1)])

    def __str__(self) -> str:
        return self.summary()


def run(network: Network, settings: Settings, *, stacklevel: int = 3) -> LSUVReport:
    """Rescale each layer of ``network`` in forward order (the module docstring);
    warn (:class:`LSUVWarning`) once, naming every layer left outside tolerance."""
    target = settings.target
    rows: list[LSUVRow] = []
    for i, path in enumerate(network.paths()):
        found = network.moments(i)
        if found is None:
            rows.append(LSUVRow(path, 0, math.nan, math.nan, 1.0, 0.0, False, "not reached"))
            continue
        mean, variance = found
        initial, scale, shift, iterations, note = variance, 1.0, 0.0, 0, ""
        while True:
            if not math.isfinite(variance) or not math.isfinite(mean):
                note = "non-finite variance"
                break
            if variance <= 0:
                note = "zero variance"
                break
            if settings.converged(variance):
                break
            if iterations >= settings.max_iter:
                note = "max_iter"
                break
            factor = math.sqrt(target / variance)
            bias = network.bias_mean(i) if settings.center else None
            network.scale(i, factor)
            scale *= factor
            if bias is not None:
                # the output's mean after the scaling is factor (mean - b) + b, b the bias mean
                delta = -(factor * (mean - bias) + bias)
                network.shift(i, delta)
                shift += delta
            iterations += 1
            again = network.moments(i)
            mean, variance = again if again is not None else (math.nan, math.nan)
        rows.append(LSUVRow(path, iterations, initial, variance, scale, shift, not note, note))
    report = LSUVReport(
        convention=settings.convention,
        criterion="var" if settings.on == "variance" else "std",
        tol=settings.tol,
        max_iter=settings.max_iter,
        target=target,
        center=settings.center,
        rows=tuple(rows),
    )
    failed = [r for r in report.rows if not r.converged]
    if failed:
        shown = ", ".join(f"{r.path!r} ({r.note}, variance {r.variance:.4g})" for r in failed[:8])
        more = f" and {len(failed) - 8} more" if len(failed) > 8 else ""
        msg = (
            f"LSUV left {len(failed)} of {len(report.rows)} layers outside tolerance: "
            f"{shown}{more}; see the report's rows"
        )
        warnings.warn(msg, LSUVWarning, stacklevel=stacklevel)
    return report
