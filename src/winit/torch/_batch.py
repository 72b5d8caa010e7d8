"""A PyTorch model run on a batch: LSUV (data-dependent initialization, over the
framework-neutral core in :mod:`winit._lsuv`) and per-layer diagnostics
(``lsuv_``, ``diagnose``, ``plot``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from .. import _lsuv
from .._lsuv import LSUVReport, LSUVRow, LSUVWarning
from ..model import Recipe, Rule, matches
from ._bridge import (
    _CONV,
    _CONV_TRANSPOSE,
    _check_module,
    _is_hf_conv1d,
    _join,
    _patterns,
    _walk,
    init_,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Diagnosis", "LSUVReport", "LSUVRow", "LSUVWarning", "diagnose", "lsuv_", "plot"]

# -- LSUV and diagnostics ------------------------------------------------------------------

_LSUV_TYPES = (nn.Linear, *_CONV, *_CONV_TRANSPOSE)

_ORTHONORMAL = Recipe(
    [
        Rule("*", "orthogonal", kind=("dense", "conv"), optional=True),
        Rule("*", "zeros", kind="bias", optional=True),
    ],
    name="lsuv_orthonormal",
    dims={},
)
"""LSUV's pre-initialization: orthonormal weights (each one a matrix of one row
per output unit, as ``winit.orthogonal`` reads it), zero biases."""

ModuleFilter = str | Iterable[str] | Callable[[str, nn.Module], bool] | None


class _Stop(Exception):
    """Raised by a forward hook to end a forward pass at the layer it watches."""


def _call(model: nn.Module, batch: Any) -> Any:
    """``model(batch)``: a tensor as the one argument, a tuple or list as the
    positional arguments, a mapping as the keyword arguments."""
    if isinstance(batch, torch.Tensor):
        return model(batch)
    if isinstance(batch, Mapping):
        return model(**batch)
    if isinstance(batch, tuple | list):
        return model(*batch)
    msg = (
        "batch must be a tensor, a tuple or list of the model's positional arguments, "
        f"or a mapping of its keyword arguments; got {type(batch).__name__}"
    )
    raise TypeError(msg)


def _first_tensor(value: Any) -> torch.Tensor | None:
    """A module's or model's output as one tensor: itself, or the first tensor of
    a tuple, list or mapping (a Hugging Face ``ModelOutput`` is a mapping)."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, Mapping) else value
    if isinstance(items, Iterable) and not isinstance(items, str | bytes):
        for item in items:
            if isinstance(item, torch.Tensor):
                return item
    return None


def _selector(only: ModuleFilter, what: str) -> Callable[[str, nn.Module], bool]:
    if callable(only):
        return only
    patterns = _patterns(only)
    if patterns is None:
        msg = f"{what} needs a module filter"
        raise AssertionError(msg)
    return lambda path, _: any(matches(p, path) for p in patterns)


def _is_lsuv_layer(path: str, module: nn.Module, modules: Mapping[str, nn.Module]) -> bool:
    """A Linear, convolution or transformers ``Conv1D`` that runs its own forward:
    not the ``out_proj`` of a ``MultiheadAttention``, which reads its weight alone."""
    if not (isinstance(module, _LSUV_TYPES) or _is_hf_conv1d(module)):
        return False
    parent = modules.get(path.rpartition(".")[0]) if path else None
    return not isinstance(parent, nn.MultiheadAttention)


def _forward_order(
    model: nn.Module, batch: Any, modules: Sequence[tuple[str, nn.Module]]
) -> list[int]:
    """Indices of ``modules`` in the order of their first call in a forward pass."""
    order: list[int] = []
    handles = []
    for i, (_, module) in enumerate(modules):

        def hook(mod: nn.Module, args: Any, output: Any, i: int = i) -> None:
            if i not in order:
                order.append(i)

        handles.append(module.register_forward_hook(hook))
    try:
        _call(model, batch)
    finally:
        for handle in handles:
            handle.remove()
    return order


class _Modes:
    """Set every submodule's ``training`` flag, and put each back as it was."""

    def __init__(self, model: nn.Module, train: bool) -> None:
        self.model, self.train = model, train
        self.saved = {m: m.training for m in model.modules()}

    def __enter__(self) -> None:
        self.model.train(self.train)

    def __exit__(self, *exc: object) -> None:
        for module, training in self.saved.items():
            module.training = training


class _TorchNetwork:
    """A PyTorch model's LSUV layers, as :class:`winit._lsuv.Network` wants them."""

    def __init__(
        self, model: nn.Module, batch: Any, layers: list[tuple[str, nn.Module]], reached: int
    ) -> None:
        self.model, self.batch, self.layers, self.reached = model, batch, layers, reached

    def paths(self) -> list[str]:
        return [path for path, _ in self.layers]

    def moments(self, i: int) -> tuple[float, float] | None:
        if i >= self.reached:
            return None
        found: list[tuple[float, float] | None] = []

        def hook(mod: nn.Module, args: Any, output: Any) -> None:
            out = _first_tensor(output)
            if out is None:
                found.append(None)
            else:
                wide = out.detach().to(torch.float64)
                found.append((float(wide.mean()), float(wide.var(unbiased=False))))
            raise _Stop  # the rest of the forward pass cannot change this output

        handle = self.layers[i][1].register_forward_hook(hook)
        try:
            _call(self.model, self.batch)
        except _Stop:
            pass
        finally:
            handle.remove()
        return found[0] if found else None

    def scale(self, i: int, factor: float) -> None:
        weight: Any = self.layers[i][1].weight
        weight.mul_(factor)

    def bias_mean(self, i: int) -> float | None:
        bias = getattr(self.layers[i][1], "bias", None)
        return None if bias is None else float(bias.detach().to(torch.float64).mean())

    def shift(self, i: int, delta: float) -> None:
        bias: Any = self.layers[i][1].bias
        bias.add_(delta)


def lsuv_(
    module: nn.Module,
    batch: Any,
    *,
    convention: str = "caffe",
    tol: float | None = None,
    max_iter: int | None = None,
    target: float = 1.0,
    center: bool | None = None,
    only: ModuleFilter = None,
    orthonormal: bool = True,
    rng: Any = None,
) -> LSUVReport:
    r"""Layer-sequential unit-variance initialization (Mishkin & Matas, 2015), in place.

    First every targeted layer's weight is made orthonormal (Saxe et al.,
    2014) and its bias zero (as in both of the authors' implementations),
    through winit's plan: each weight, read as the matrix of one row per output
    unit (a convolution's ``(out, in/groups · k₁ · k₂ …)``, as the paper
    does), is a Haar orthogonal sample keyed by its path under ``rng``, as
    :func:`init_` with the rules ``orthogonal`` for dense and conv weights and
    ``zeros`` for biases samples it. Then, layer by layer in forward order, the
    batch is forwarded as far as the layer (a forward hook on it ends the pass
    there) and its weight is multiplied by :math:`\sqrt{v^* / v}`, :math:`v`
    the variance about the mean of the layer's output over the whole batch
    (every sample, unit and position, as ``numpy.var`` of the whole output;
    before any activation, in-place ones included), until the convention's
    criterion holds or ``max_iter`` rescalings were made (a layer already
    within tolerance is left as it is):

    =============  ==================================  =====  ========  ======
    convention     criterion                           tol    max_iter  center
    =============  ==================================  =====  ========  ======
    ``'caffe'``    :math:`|v - v^*| \le \mathrm{tol}`  0.02   20        no
    ``'pytorch'``  :math:`|\sqrt v - \sqrt{v^*}|       0.1    10        yes
                   \le \mathrm{tol}`
    =============  ==================================  =====  ========  ======

    The default, ``'caffe'``, is the authors' reference implementation (the
    Caffe script of the paper's experiments, ducha-aiki/LSUVinit) and the
    variance criterion of the paper's Algorithm 1; it is also the stricter one
    (``'pytorch'`` accepts variances in about [0.81, 1.21]). ``'pytorch'`` is
    their PyTorch package (ducha-aiki/LSUV-pytorch), which also moves each
    output's mean to 0 through the layer's bias (``center``). ``max_iter`` is
    the exact maximum number of rescalings (the originals may make one more).

    The layers are the ``Linear``, ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``
    and transformers ``Conv1D`` modules (subclasses included) with a plain
    weight of their own: not a parametrized one, not one tied to another
    parameter (a language model's head tied to its embeddings; rescaling it
    would rescale them) and not the ``out_proj`` of a ``MultiheadAttention``
    (whose forward never runs). The layers are taken in the order their outputs
    are first computed. The pass runs under ``torch.no_grad()`` with
    the model in eval mode (no dropout; normalization layers use, and do not
    update, their running statistics), and every submodule's train/eval mode
    is restored afterwards. A layer called more than once is rescaled by the
    output of its first call.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    batch : tensor, tuple, list or mapping
        A batch of real inputs: the model's one argument, its positional
        arguments, or its keyword arguments. Larger batches give steadier
        variances (the authors recommend large ones).
    convention : {'caffe', 'pytorch'}, default 'caffe'
        The published convention whose tolerance, iteration cap and centering
        to use (the table above).
    tol : float, optional
        The tolerance, on the variance (``'caffe'``) or the standard deviation
        (``'pytorch'``); default the convention's.
    max_iter : int, optional
        The most rescalings of one layer; default the convention's.
    target : float, default 1
        The output variance to reach, :math:`v^*`.
    center : bool, optional
        Also shift each layer's bias so that its output's mean is 0; default
        the convention's. Layers without a bias are only scaled.
    only : str, list of str or callable, optional
        Which layers: patterns over the module paths (``'features.*'``, ``*``
        any run of characters), or ``f(path, module) -> bool`` (called for the
        layers above only); default all of them.
    orthonormal : bool, default True
        Pre-initialize orthonormally; False rescales the weights as they are
        (the Caffe script's ``LSUV`` mode).
    rng : {None, int, SeedSequence, BitGenerator, Generator, Key}, optional
        The randomness of the orthonormal pre-initialization; each weight
        depends on it and its path alone.

    Returns
    -------
    LSUVReport
        One row per layer in forward order: its iterations, its output's
        variance before and after, the scale applied, whether it converged.
        ``str(report)`` is a table.

    Raises
    ------
    TypeError
        If ``module`` is not a module, ``batch`` not a tensor, sequence or
        mapping, or an option of the wrong type.
    ValueError
        If an option's value is not allowed, or ``only`` selects no layer.

    Warns
    -----
    LSUVWarning
        Once, naming every layer left outside tolerance: not converged within
        ``max_iter`` rescalings, an output of zero or non-finite variance
        (which no scale fixes; e.g. all its inputs are zero), or a layer the
        forward pass never reached. Such layers keep their last weights.

    Examples
    --------
    >>> import torch, winit.torch
    >>> model = torch.nn.Sequential(
    ...     torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
    ...     torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(),
    ...     torch.nn.Flatten(), torch.nn.Linear(16 * 64, 10))
    >>> x = torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> report = winit.torch.lsuv_(model, x, rng=0)
    >>> [row.path for row in report.rows], report.converged
    (['0', '2', '5'], True)
    >>> all(abs(row.variance - 1) <= 0.02 for row in report.rows)
    True

    References
    ----------
    D. Mishkin and J. Matas, "All you need is a good init", ICLR 2016
    (arXiv:1511.06422). A. M. Saxe, J. L. McClelland and S. Ganguli, "Exact
    solutions to the nonlinear dynamics of learning in deep linear neural
    networks", ICLR 2014.
    """
    settings = _lsuv.resolve(convention, tol, max_iter, target, center)
    if not isinstance(orthonormal, bool):
        msg = f"orthonormal must be True or False; got {orthonormal!r}"
        raise TypeError(msg)
    model = _check_module(module)
    modules = dict(model.named_modules())
    walked = _walk(model)
    chosen = _selector(only, "lsuv_") if only is not None else (lambda path, m: True)
    layers: list[tuple[str, nn.Module]] = []
    for path, owner in modules.items():
        if not _is_lsuv_layer(path, owner, modules) or parametrize.is_parametrized(owner, "weight"):
            continue
        own = walked.get(_join(path, "weight"))
        if own is None or own[0] is not owner.weight:  # tied: another path owns it
            continue
        if chosen(path, owner):
            layers.append((path, owner))
    if not layers:
        msg = (
            f"only={only!r} selects no layer to rescale; LSUV rescales Linear, Conv and "
            "ConvTranspose layers and transformers' Conv1D"
            if only is not None
            else "the model has no Linear, Conv, ConvTranspose or transformers Conv1D layer "
            "with a weight of its own for LSUV to rescale"
        )
        raise ValueError(msg)
    with _Modes(model, train=False), torch.no_grad():
        if orthonormal:
            paths = [_join(p, "weight") for p, _ in layers]
            paths += [_join(p, "bias") for p, m in layers if getattr(m, "bias", None) is not None]
            init_(model, _ORTHONORMAL, rng, only=paths)
        order = _forward_order(model, batch, layers)
        reached = len(order)
        ordered = [layers[i] for i in order] + [x for i, x in enumerate(layers) if i not in order]
        return _lsuv.run(_TorchNetwork(model, batch, ordered, reached), settings)


@dataclass(frozen=True, eq=False)
class Diagnosis:
    r"""Per-layer statistics of one forward and backward pass through a PyTorch
    model (:func:`diagnose`).

    Every array has one entry per diagnosed module, in the order their first
    outputs are computed in the forward pass (a container after its children);
    a module called several times counts all its outputs. Statistics are over
    the whole batch and every unit and position,
    in float64 (population standard deviations).

    Attributes
    ----------
    label : str
        A name for the run.
    paths : tuple of str
        The modules' paths.
    modules : tuple of str
        Their class names.
    shapes : tuple of tuple of int
        The shape of each module's (first) output.
    batch : int
        The size of the batch's first dimension (of its first tensor).
    mean, std, second_moment : numpy.ndarray
        Mean, standard deviation and :math:`E[y^2]` of each module's output
        :math:`y`.
    grad_mean, grad_std : numpy.ndarray
        Mean and standard deviation of :math:`\partial \mathcal{L} / \partial y`;
        NaN where no gradient reached the output.
    loss : float
        The loss that was backpropagated.
    """

    label: str
    paths: tuple[str, ...]
    modules: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    batch: int
    mean: np.ndarray
    std: np.ndarray
    second_moment: np.ndarray
    grad_mean: np.ndarray
    grad_std: np.ndarray
    loss: float

    @property
    def depth(self) -> int:
        """The number of diagnosed modules."""
        return len(self.paths)

    def summary(self, max_rows: int | None = 21) -> str:
        """A table of the statistics, one row per module.

        Parameters
        ----------
        max_rows : int or None, default 21
            For more modules show every k-th, always with the first and the
            last, in at most this many rows; None shows every one.

        Returns
        -------
        str
        """
        from ..propagation import _format_table, _shown_layers

        rows = _shown_layers(self.depth, max_rows)
        header = ["#", "layer", "module", "shape", "mean", "std", "E[y²]", "grad mean", "grad std"]
        table = [header]
        for i in rows:
            shape = "x".join(map(str, self.shapes[i]))
            values = (self.mean[i], self.std[i], self.second_moment[i])
            row = [str(i + 1), self.paths[i] or "(model)", self.modules[i], shape]
            row += [f"{v:.4g}" for v in (*values, self.grad_mean[i], self.grad_std[i])]
            table.append(row)
        title = f"{self.label} · {self.depth} layers · batch {self.batch} · loss {self.loss:.4g}"
        if len(rows) < self.depth:
            title += f" · layers shown: every {rows[1] - rows[0]}, and the last"
        return "\n".join([title, *_format_table(table, left=4)])

    def __str__(self) -> str:
        return self.summary()


def _moments(tensors: Sequence[torch.Tensor]) -> tuple[float, float, float]:
    """Mean, standard deviation and second moment of all the tensors' entries, in float64."""
    if not tensors:
        return math.nan, math.nan, math.nan
    wide = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors])
    mean = float(wide.mean())
    return mean, float(wide.std(unbiased=False)), float((wide * wide).mean())


def diagnose(
    module: nn.Module,
    batch: Any,
    loss: Callable[[Any], torch.Tensor] | None = None,
    *,
    only: ModuleFilter = None,
    train: bool = False,
    rng: Any = None,
    label: str | None = None,
) -> Diagnosis:
    r"""Per-layer activation and gradient statistics of a PyTorch model on a batch.

    Forward hooks record each diagnosed module's output :math:`y` (its
    statistics are taken when it is computed, before any in-place operation
    after it), tensor hooks on them the gradient
    :math:`\partial\mathcal{L}/\partial y` of one backward pass; the result has
    the table (``str``) and plot (:func:`plot`) form of
    :class:`winit.propagation.Propagation`.

    The loss is ``loss(output)`` (a scalar tensor), ``output`` what the model
    returns; without one it is :math:`\mathcal{L} = \sum_i y^{\mathrm{out}}_i
    g_i`, :math:`y^{\mathrm{out}}` the model's output (its first tensor, for a
    tuple or a Hugging Face ``ModelOutput``: the logits) and :math:`g` standard
    normal from ``rng``, so that :math:`\partial\mathcal{L}/\partial
    y^{\mathrm{out}} = g`, the top gradient :func:`winit.propagation.propagate`
    backpropagates. Gradients are computed with :func:`torch.autograd.grad`,
    so no parameter's ``.grad`` changes, and nothing of the model does except
    (with ``train=True``) normalization running statistics.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    batch : tensor, tuple, list or mapping
        The model's one argument, positional arguments or keyword arguments.
    loss : callable, optional
        ``loss(output) -> scalar tensor``; default the random projection above.
    only : str, list of str or callable, optional
        Which modules: patterns over module paths (``'*'`` every module,
        containers included; ``'*act*'``), or ``f(path, module) -> bool``;
        default the layers :func:`lsuv_` rescales (Linear, Conv,
        ConvTranspose, transformers ``Conv1D``), whose outputs are the
        pre-activations.
    train : bool, default False
        Run in train mode (dropout on, batch statistics); default eval mode.
        Every submodule's mode is restored afterwards.
    rng : {None, int, SeedSequence, BitGenerator, Generator}, optional
        Seeds the default loss's :math:`g`.
    label : str, optional
        A name for the run; default the model's class name.

    Returns
    -------
    Diagnosis
        The per-module statistics, in forward order (modules never called are
        left out).

    Raises
    ------
    TypeError
        If ``module`` is not a module, ``batch`` of the wrong type, or the
        model returns no tensor for the default loss.
    ValueError
        If ``loss`` does not return a scalar, or the filter selects no module
        that the forward pass calls.

    Examples
    --------
    >>> import torch, winit.torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(),
    ...                             torch.nn.Linear(64, 10))
    >>> x = torch.randn(256, 64, generator=torch.Generator().manual_seed(0))
    >>> d = winit.torch.diagnose(model, x, rng=0)
    >>> d.paths, d.shapes
    (('0', '2'), ((256, 64), (256, 10)))
    >>> round(float(d.grad_std[-1]), 1)  # the top gradient is standard normal
    1.0
    """
    model = _check_module(module)
    if not isinstance(train, bool):
        msg = f"train must be True or False; got {train!r}"
        raise TypeError(msg)
    modules = dict(model.named_modules())
    if only is None:
        chosen = [(p, m) for p, m in modules.items() if _is_lsuv_layer(p, m, modules)]
    else:
        select = _selector(only, "diagnose")
        chosen = [(p, m) for p, m in modules.items() if select(p, m)]
    outputs: list[list[torch.Tensor]] = [[] for _ in chosen]
    grads: list[list[torch.Tensor]] = [[] for _ in chosen]
    first: list[int] = []

    def forward_hook(i: int) -> Callable[..., None]:
        def hook(mod: nn.Module, args: Any, output: Any) -> None:
            out = _first_tensor(output)
            if out is None:
                return
            if i not in first:
                first.append(i)
            outputs[i].append(out.detach().clone())
            if out.requires_grad:
                out.register_hook(lambda g: grads[i].append(g.detach()))

        return hook

    handles = [m.register_forward_hook(forward_hook(i)) for i, (_, m) in enumerate(chosen)]
    try:
        with _Modes(model, train=train), torch.enable_grad():
            output = _call(model, batch)
            if loss is None:
                top = _first_tensor(output)
                if top is None:
                    msg = (
                        f"the model returned {type(output).__name__} with no tensor in it; "
                        "pass loss=f(output) -> scalar tensor"
                    )
                    raise TypeError(msg)
                g = np.random.default_rng(rng).standard_normal(tuple(top.shape))
                value = (top * torch.from_numpy(g).to(top.device, top.dtype)).sum()
            else:
                value = loss(output)
                if not isinstance(value, torch.Tensor) or value.numel() != 1:
                    msg = f"loss must return a scalar tensor; got {value!r:.80}"
                    raise ValueError(msg)
                value = value.reshape(())
            if value.requires_grad:
                params = [p for p in model.parameters() if p.requires_grad]
                leaves = [t for t in _batch_tensors(batch) if t.requires_grad]
                inputs = params + leaves
                if inputs:
                    torch.autograd.grad(value, inputs, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    if not first:
        msg = f"only={only!r} selects no module that the forward pass calls"
        raise ValueError(msg)
    stats = np.array([_moments(outputs[i]) for i in first]).reshape(-1, 3)
    gstats = np.array([_moments(grads[i])[:2] for i in first]).reshape(-1, 2)
    tensors = _batch_tensors(batch)
    return Diagnosis(
        label=type(model).__name__ if label is None else label,
        paths=tuple(chosen[i][0] for i in first),
        modules=tuple(type(chosen[i][1]).__name__ for i in first),
        shapes=tuple(tuple(outputs[i][0].shape) for i in first),
        batch=int(tensors[0].shape[0]) if tensors and tensors[0].ndim else 1,
        mean=stats[:, 0],
        std=stats[:, 1],
        second_moment=stats[:, 2],
        grad_mean=gstats[:, 0],
        grad_std=gstats[:, 1],
        loss=float(value.detach()),
    )


def _batch_tensors(batch: Any) -> list[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        return [batch]
    items = batch.values() if isinstance(batch, Mapping) else batch
    return [t for t in items if isinstance(t, torch.Tensor)]


def plot(
    runs: Diagnosis | Sequence[Diagnosis],
    path: str | Path | None = None,
    *,
    title: str | None = None,
) -> Figure:
    r"""Plot the per-layer standard deviations of outputs and gradients of one or
    more :class:`Diagnosis` runs, as :func:`winit.propagation.plot` does for
    its networks: outputs :math:`y_l` on the left, gradients
    :math:`\partial\mathcal{L}/\partial y_l` on the right, log scale.

    Parameters
    ----------
    runs : Diagnosis or sequence of Diagnosis
        E.g. a model before and after :func:`lsuv_`.
    path : str or Path, optional
        Save the figure there.
    title : str, optional
        The figure's title; default names the first run's model.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install 'winit[plot]'``).
    """
    from ..propagation import _plot_std

    runs = [runs] if isinstance(runs, Diagnosis) else list(runs)
    if not runs or not all(isinstance(r, Diagnosis) for r in runs):
        msg = f"runs must be a Diagnosis or a non-empty sequence of them; got {runs!r:.80}"
        raise TypeError(msg) if runs else ValueError(msg)
    return _plot_std(
        [(r.label, r.std, r.grad_std) for r in runs],
        path,
        title=f"{runs[0].label}, {runs[0].depth} layers" if title is None else title,
        forward=r"forward: std of layer outputs $y_l$",
        backward=r"backward: std of gradients $\partial L / \partial y_l$",
    )
