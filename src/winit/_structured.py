"""Structured initializers: orthogonal, sparse, identity and Dirac (identity
convolution) weights."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import _engine as engine
from . import _validation as check
from ._distributions import Normal
from ._engine import Request
from ._fans import LAYOUTS, FanSpec
from ._initializer import Plan, define

_PERMUTATION_PURPOSE = 1 << 32  # stream purpose of sparse's zero patterns


# -- orthogonal -------------------------------------------------------------------------------


def haar_orthonormalize(x: np.ndarray, gain: float) -> None:
    """Replace the standard Gaussian, tall, Fortran-ordered matrix ``x`` in place
    by ``gain`` times a Haar-distributed matrix with orthonormal columns.

    This is the Householder QR of a Gaussian matrix with the signs of R's diagonal
    moved into Q, built the way Stewart (1980) showed to be equal in distribution
    at half the cost: after each reflection the untouched part of a Gaussian
    matrix is again Gaussian and independent of the reflections so far, so every
    reflector is formed directly from fresh Gaussian entries (those of ``x``) and
    the trailing updates of a full factorization are skipped. The reflectors are
    stored as LAPACK's ?geqrf would and LAPACK's ?orgqr multiplies them out.
    """
    from scipy.linalg import lapack  # imported on first use: it is slow to import

    cols = x.shape[1]
    # the entries a factorization would leave as R, above the diagonal
    for j in range(1, cols):
        x[:j, j] = 0
    diagonal = (np.arange(cols), np.arange(cols))
    alpha = x[diagonal].astype(np.float64)
    norm = np.sqrt(_column_sums_of_squares(x))
    # A column that is 0 on and below the diagonal (a float32 Gaussian can be exactly
    # 0) needs no reflection: as LAPACK's ?larfg, its reflector is the identity
    # (tau = 0) and R's diagonal entry is alpha, whose sign counts as + for a zero.
    reflect = norm != 0
    beta = np.where(reflect, -np.copysign(norm, alpha), alpha)  # R's diagonal
    tau = np.divide(beta - alpha, beta, out=np.zeros_like(beta), where=reflect).astype(x.dtype)
    x *= np.divide(1.0, alpha - beta, out=np.zeros_like(beta), where=reflect).astype(x.dtype)
    x[diagonal] = beta
    prefix = "s" if x.dtype == np.float32 else "d"
    build = getattr(lapack, prefix + "orgqr")
    work_size = int(build(x, tau, lwork=-1)[1][0])
    q, _, info = build(x, tau, lwork=work_size, overwrite_a=1)
    if info != 0:  # pragma: no cover - LAPACK reports a bad argument
        msg = f"LAPACK {prefix}orgqr failed with info={info}"
        raise RuntimeError(msg)
    q *= np.where(beta < 0, -gain, gain).astype(x.dtype)
    if not np.shares_memory(q, x):
        x[...] = q


def _column_sums_of_squares(x: np.ndarray) -> np.ndarray:
    """Sums of squares of the columns of ``x``, in float64, a block of columns at a time."""
    block = max(1, (1 << 20) // max(1, x.shape[0]))
    total = np.empty(x.shape[1], dtype=np.float64)
    for j in range(0, x.shape[1], block):
        part = x[:, j : j + block].astype(np.float64)
        part *= part
        total[j : j + block] = part.sum(axis=0)
    return total


@dataclass(frozen=True)
class Orthogonal:
    block_cost: ClassVar[str] = "whole"
    gain: float
    layout: str

    def matrix(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        """(output axis, units, inputs per unit) of the flattened weight."""
        if len(shape) < 2:
            msg = f"orthogonal needs a shape with at least 2 dimensions; got shape={shape}"
            raise ValueError(msg)
        axis = LAYOUTS[self.layout][1] % len(shape)
        units = shape[axis]
        return axis, units, math.prod(shape) // units if units else 0

    def sample(self, request: Request) -> np.ndarray:
        shape = request.shape
        axis, units, inputs = self.matrix(shape)
        # entries reach |gain| (a unit vector's coordinates are at most 1) and are
        # |gain| / sqrt(length) in root mean square (the longer side's length)
        typical = abs(self.gain) / math.sqrt(max(units, inputs, 1))
        what = f"gain={self.gain!r}"
        engine.check_magnitude(what, abs(self.gain), request.dtype, typical)
        if units * inputs == 0:
            request.draw_key()
            return request.allocate()
        work = engine.compute_dtype(request.dtype)
        whole = request.whole
        out = request.allocate()
        units_last = axis == len(shape) - 1
        contiguous_matrix = units_last or axis == 0
        if request.complex:
            return self._place(request, out, self._unitary(request, units, inputs, units_last))
        # The weight as a C-ordered matrix M, (inputs, units) when the unit axis is
        # last and (units, inputs) otherwise; its shorter side's vectors become
        # orthonormal. LAPACK works on the columns of a tall Fortran-ordered matrix:
        # when M is wide that is M.T, the same memory (in place in the output when
        # possible); when M is tall, M in Fortran order (a temporary; orthonormalizing
        # the rows of M.T instead, with ?orgrq, took 2-4 times as long, copy included).
        rows, cols = (inputs, units) if units_last else (units, inputs)
        wide = rows <= cols
        in_place = wide and whole and out.dtype == work and out.flags.c_contiguous
        in_place = in_place and contiguous_matrix
        flat = out.reshape(-1) if in_place else np.empty(units * inputs, dtype=work)
        engine.fill_flat(Normal(0.0, 1.0), flat, request.seeds, 0, flat.size, request.threads)
        matrix = flat.reshape(rows, cols) if wide else flat.reshape(cols, rows).T
        haar_orthonormalize(matrix.T if wide else matrix, self.gain)
        if in_place:
            return out
        if whole and out.flags.c_contiguous and contiguous_matrix:
            out.reshape(rows, cols)[...] = matrix
            return out
        return self._place(request, out, matrix)

    def _place(self, request: Request, out: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Write the requested block of the weight whose C-ordered matrix is
        ``matrix`` (see :meth:`sample`) into ``out``."""
        shape = request.shape
        axis, units, _ = self.matrix(shape)
        matrix = np.ascontiguousarray(matrix)
        if axis == len(shape) - 1 or axis == 0:
            full = matrix.reshape(shape)
        else:
            moved = matrix.reshape(units, *(d for i, d in enumerate(shape) if i != axis))
            full = np.moveaxis(moved, 0, axis)
        out[...] = request.cut(full)
        return out

    def _unitary(self, request: Request, units: int, inputs: int, units_last: bool) -> np.ndarray:
        """The weight's C-ordered matrix for a complex dtype: ``gain`` times a Haar
        (unitary-invariant) matrix with orthonormal rows or columns, the Q of the
        QR decomposition of a complex Gaussian matrix with Q's columns multiplied
        by the phases of R's diagonal (Mezzadri, 2007). The Gaussian's (real,
        imaginary) pairs are the normals of the engine's real array of the
        complex matrix's pairs."""
        part = engine.part_dtype(request.dtype)
        pairs = np.empty(2 * units * inputs, dtype=part)
        engine.fill_flat(Normal(0.0, 1.0), pairs, request.seeds, 0, pairs.size, request.threads)
        gaussian = pairs.view(request.dtype)
        rows, cols = (inputs, units) if units_last else (units, inputs)
        wide = rows <= cols
        # the tall matrix whose columns become orthonormal, as for real dtypes
        tall = gaussian.reshape(rows, cols).T if wide else gaussian.reshape(cols, rows).T
        q, r = np.linalg.qr(tall)
        d = np.diagonal(r)
        size = np.abs(d)
        phase = np.divide(d, size, out=np.ones_like(d), where=size != 0)
        q *= phase * part.type(self.gain)
        return q.T if wide else q

    def moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        _, units, inputs = self.matrix(shape)
        return 0.0, abs(self.gain) / math.sqrt(max(units, inputs, 1))


@define("orthogonal", "gain · Haar-random orthonormal rows or columns")
def orthogonal(gain: float = 1.0, layout: str = "xw") -> Plan:
    r"""A random orthogonal matrix (Haar distributed), times ``gain``.

    The weight is read as a matrix with one row per output unit (its
    ``layout``'s output axis) and one column per input the unit sees (the
    product of all other axes). With fewer units than inputs the units'
    weight vectors are orthonormal; otherwise the columns are:

    .. math::

        W W^\top = \mathrm{gain}^2 I \quad (\text{units} \le \text{inputs}),
        \qquad W^\top W = \mathrm{gain}^2 I \quad (\text{otherwise}).

    The matrix is the Q factor of the QR decomposition of a standard Gaussian
    matrix, with Q's columns multiplied by the signs of R's diagonal, which
    makes it exactly Haar (uniform) distributed (Mezzadri, 2007); it is built
    by Stewart's (1980) method, which samples that Q with half the work of a
    QR. Orthogonal weights preserve the norm of every input of a linear layer,
    the basis of the exact learning dynamics of deep linear networks (Saxe et
    al., 2014). The orthonormalization runs in float32 for float32 and narrower
    outputs, in float64 for float64.

    For a complex dtype (complex64, complex128) the matrix is Haar distributed
    on the unitary group (the complex Stiefel manifold when not square):
    ``W W^H = gain² I`` or ``W^H W = gain² I``, the Q of the QR decomposition
    of a complex Gaussian matrix with Q's columns multiplied by the phases of
    R's diagonal (Mezzadri, 2007), computed in the part precision.

    Parameters
    ----------
    gain : float, default 1
        Scale factor.
    layout : {'xw', 'torch', 'torch_transpose', 'xw_transpose'}, default 'xw'
        Where the output axis is: last for ``'xw'`` (as Keras and JAX),
        first for ``'torch'`` (as ``torch.nn.init.orthogonal_``), second for
        ``'torch_transpose'``, second to last for ``'xw_transpose'``.

    Examples
    --------
    >>> import numpy as np, winit
    >>> w = winit.orthogonal((256, 128), rng=0, dtype="float64")
    >>> bool(np.allclose(w.T @ w, np.eye(128)))
    True
    >>> u = winit.orthogonal((64, 64), rng=0, dtype="complex128")
    >>> bool(np.allclose(u.conj().T @ u, np.eye(64)))
    True

    References
    ----------
    F. Mezzadri, "How to generate random matrices from the classical compact
    groups", Notices of the AMS 54(5), 2007. G. W. Stewart, "The efficient
    generation of random orthogonal matrices with an application to condition
    estimators", SIAM J. Numer. Anal. 17(3), 1980. A. M. Saxe, J. L. McClelland and
    S. Ganguli, "Exact solutions to the nonlinear dynamics of learning in deep
    linear neural networks", ICLR 2014.
    """
    return Orthogonal(check.real("gain", gain), check.one_of("layout", layout, tuple(LAYOUTS)))


# -- sparse -----------------------------------------------------------------------------------


def columns_per_block(rows: int) -> int:
    """How many whole columns sparse samples together (one stream of values and
    one zero pattern per group): about one tile of values, a fixed rule. A block
    costs the groups of columns it meets."""
    return max(1, engine.CHUNK // max(rows, 1))


def zeros_per_column(sparsity: float, rows: int) -> int:
    """ceil(sparsity * rows), the product first rounded to 9 decimals so that
    0.07 * 100 (7.000000000000001 in floating point) counts 7, as in decimal
    arithmetic, not 8."""
    return min(rows, math.ceil(round(sparsity * rows, 9)))


@dataclass(frozen=True)
class Sparse:
    block_cost: ClassVar[str] = "columns"
    sparsity: float
    std: float

    def _check(self, shape: tuple[int, ...]) -> tuple[int, int]:
        if len(shape) != 2:
            msg = f"sparse needs a 2-D shape (rows, columns); got shape={shape}"
            raise ValueError(msg)
        return shape

    def sample(self, request: Request) -> np.ndarray:
        rows, cols = self._check(request.shape)
        engine.refuse_complex(request.dtype, "sparse")
        out = request.allocate()
        if out.size == 0:
            request.draw_key()
            return out
        zeros = zeros_per_column(self.sparsity, rows)
        nonzero = rows - zeros
        width = columns_per_block(rows)
        (r0, c_lo), (r1, c_hi) = request.block.starts, request.block.stops
        target = request.target(out)
        normal = Normal(0.0, self.std)
        work = engine.compute_dtype(request.dtype)
        seeds = request.seeds
        engine.check_range(normal, request.dtype)

        def block(b: int) -> None:
            c0, c1 = b * width, min(cols, (b + 1) * width)
            s = engine.streams()
            by_column = np.zeros((c1 - c0, rows), dtype=work)
            if nonzero:
                values = by_column[:, :nonzero]
                flat = np.empty(values.size, dtype=work)
                total = cols * nonzero
                engine.fill_flat(normal, flat, seeds, c0 * nonzero, c1 * nonzero, 1, total)
                values[...] = flat.reshape(values.shape)
            s.begin(seeds)
            s.chunk = b
            s.at(_PERMUTATION_PURPOSE)
            s.generator.permuted(by_column, axis=1, out=by_column)
            k0, k1 = max(c0, c_lo), min(c1, c_hi)
            target[:, k0 - c_lo : k1 - c_lo] = by_column[k0 - c0 : k1 - c0, r0:r1].T

        first, last = c_lo // width, -(-c_hi // width)
        tasks = [functools.partial(block, b) for b in range(first, last)]
        engine.run_tasks(tasks, request.threads)
        return out

    def moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        rows, _ = self._check(shape)
        kept = rows - zeros_per_column(self.sparsity, rows)
        return 0.0, self.std * math.sqrt(kept / rows) if rows else 0.0


@define("sparse", "N(0, std²) with ceil(sparsity·rows) zeros in every column")
def sparse(sparsity: float = 0.1, std: float = 0.01) -> Plan:
    r"""A 2-D weight with a fixed number of zeros in every column.

    .. math::

        W_{ij} = 0 \ \text{for } i \in Z_j, \qquad
        W_{ij} \sim \mathcal{N}(0, \mathrm{std}^2) \ \text{otherwise}, \qquad
        |Z_j| = k = \lceil \mathrm{sparsity} \cdot \mathrm{rows} \rceil

    In every column :math:`j`, the :math:`k` zeros sit at uniformly random
    places :math:`Z_j`; the others are independent normals. In the ``'xw'``
    layout ``(in, out)`` a column holds one unit's incoming weights, so every
    unit sees the same number of inputs, the scheme of Martens (2010); on a
    ``'torch'`` ``(out, in)`` weight it has the layout of
    ``torch.nn.init.sparse_`` (zeros per column of the ``(out, in)`` matrix).
    The product ``sparsity * rows`` is rounded to 9 decimals before the
    ceiling, so that 0.07 * 100 gives 7 zeros as in exact arithmetic (torch's
    floating-point ceiling gives 8). Complex dtypes are refused.

    Parameters
    ----------
    sparsity : float, default 0.1
        The fraction of each column set to zero, in [0, 1].
    std : float, default 0.01
        Standard deviation of the non-zero entries, >= 0.

    Examples
    --------
    >>> import numpy as np, winit
    >>> w = winit.sparse((10, 4), rng=0, sparsity=0.3)
    >>> (w == 0).sum(axis=0)
    array([3, 3, 3, 3])

    References
    ----------
    J. Martens, "Deep learning via Hessian-free optimization", ICML 2010.
    """
    return Sparse(
        check.real("sparsity", sparsity, minimum=0.0, maximum=1.0),
        check.real("std", std, minimum=0.0),
    )


# -- identity and Dirac -----------------------------------------------------------------------


def _place(request: Request, index: tuple[np.ndarray, ...], value: float) -> np.ndarray:
    """Zeros with ``value`` at ``index`` (in whole-weight coordinates), for the requested block."""
    engine.check_magnitude(f"gain={value!r}", abs(value), request.dtype, abs(value))
    out = request.allocate()
    out[...] = 0
    if out.size == 0:
        return out
    starts, stops = request.block.starts, request.block.stops
    keep = np.ones(index[0].shape, dtype=bool)
    for i, a, b in zip(index, starts, stops, strict=True):
        keep &= (i >= a) & (i < b)
    request.target(out)[tuple(i[keep] - a for i, a in zip(index, starts, strict=True))] = value
    return out


@dataclass(frozen=True)
class Identity:
    block_cost: ClassVar[str] = "free"
    gain: float

    def _check(self, shape: tuple[int, ...]) -> tuple[int, int]:
        if len(shape) != 2:
            msg = f"identity needs a 2-D shape; got shape={shape} (use dirac for convolutions)"
            raise ValueError(msg)
        return shape

    def sample(self, request: Request) -> np.ndarray:
        n = min(self._check(request.shape))
        diagonal = np.arange(n)
        return _place(request, (diagonal, diagonal), self.gain)

    def moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        rows, cols = self._check(shape)
        return _point_moments(self.gain, min(rows, cols), rows * cols)


def _point_moments(value: float, count: int, size: int) -> tuple[float, float]:
    """Mean and std of an array of ``size`` entries, ``count`` of them ``value``, the rest 0."""
    if size == 0:
        return 0.0, 0.0
    mean = value * count / size
    return mean, math.sqrt(max(value * value * count / size - mean * mean, 0.0))


@define("identity", "gain · I (rectangular)")
def identity(gain: float = 1.0) -> Plan:
    r"""The (rectangular) identity matrix times ``gain``.

    .. math:: W_{ij} = \mathrm{gain} \cdot \delta_{ij}

    A linear layer so initialized passes its first min(in, out) inputs through
    unchanged (times ``gain``); the same in both layouts.

    Parameters
    ----------
    gain : float, default 1
        The diagonal's value.

    Examples
    --------
    >>> import winit
    >>> winit.identity((2, 3), gain=2)
    array([[2., 0., 0.],
           [0., 2., 0.]], dtype=float32)
    """
    return Identity(check.real("gain", gain))


@dataclass(frozen=True)
class Dirac:
    block_cost: ClassVar[str] = "free"
    groups: int
    layout: str

    def index(self, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        if not 3 <= len(shape) <= 5:
            msg = (
                f"dirac needs a 3-D, 4-D or 5-D convolution shape; got shape={shape} "
                "(use identity for 2-D)"
            )
            raise ValueError(msg)
        (in_axis,), (out_axis,), grouped = FanSpec(layout=self.layout).resolve_axes(shape)
        per_group = {"in": shape[in_axis], "out": shape[out_axis]}
        if per_group[grouped] % self.groups:
            msg = (
                f"groups={self.groups} does not divide the {per_group[grouped]} "
                f"{grouped}put channels of shape {shape}; groups must divide it"
            )
            raise ValueError(msg)
        per_group[grouped] //= self.groups
        n = min(per_group.values())
        group, channel = (
            a.ravel() for a in np.meshgrid(np.arange(self.groups), np.arange(n), indexing="ij")
        )
        full = {"in": channel, "out": channel}
        full[grouped] = group * per_group[grouped] + channel
        index: list[np.ndarray] = []
        for axis, dim in enumerate(shape):
            if axis == in_axis:
                index.append(full["in"])
            elif axis == out_axis:
                index.append(full["out"])
            else:
                index.append(np.full(channel.shape, dim // 2))
        return tuple(index)

    def sample(self, request: Request) -> np.ndarray:
        return _place(request, self.index(request.shape), 1.0)

    def moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        return _point_moments(1.0, self.index(shape)[0].shape[0], math.prod(shape))


@define("dirac", "identity convolution: 1 at the kernel centre of channel i → i")
def dirac(groups: int = 1, layout: str = "xw") -> Plan:
    r"""The identity convolution kernel: each output channel copies one input channel.

    With G ``groups`` of :math:`n_\mathrm{in}` input and :math:`n_\mathrm{out}`
    output channels each, output channel i of group j copies input channel i
    of group j, for :math:`i < n = \min(n_\mathrm{in}, n_\mathrm{out})`. As
    frameworks store grouped kernels, the input channel axis has length
    :math:`n_\mathrm{in}` and the output channel axis :math:`G\,n_\mathrm{out}`
    in the ``'xw'`` and ``'torch'`` layouts, and the input channel axis
    :math:`G\,n_\mathrm{in}` and the output channel axis :math:`n_\mathrm{out}`
    in the transposed layouts (``'torch_transpose'``, ``'xw_transpose'``):

    .. math::

        W[\ldots] = 1 \text{ at the kernel centre } (k_d // 2)_d \text{ and }
        \begin{cases}
            \text{input index } i, \text{ output index } j\,n_\mathrm{out} + i
                & \text{'xw', 'torch'} \\
            \text{input index } j\,n_\mathrm{in} + i, \text{ output index } i
                & \text{transposed}
        \end{cases}
        \qquad 0 \le j < G, \; 0 \le i < n

    and 0 elsewhere. With a stride of 1 and "same" padding the convolution
    then passes its input through (the first n channels of each group). For
    3-D, 4-D and 5-D kernels (1-D, 2-D and 3-D convolutions) in any layout.

    Parameters
    ----------
    groups : int, default 1
        Convolution groups; each group gets its own identity. It must divide
        the length of the output channel axis (``'xw'``, ``'torch'``) or of
        the input channel axis (``'torch_transpose'``, ``'xw_transpose'``).
    layout : {'xw', 'torch', 'torch_transpose', 'xw_transpose'}, default 'xw'
        ``(*kernel, in/groups, out)`` for ``'xw'``, ``(out, in/groups, *kernel)``
        for ``'torch'``, ``(in, out/groups, *kernel)`` for
        ``'torch_transpose'`` and ``(*kernel, out/groups, in)`` for
        ``'xw_transpose'``: the side whose axis holds all its channels (the
        grouped side) is the output side in the first two and the input side
        in the transposed ones.

    Examples
    --------
    >>> import winit
    >>> k = winit.dirac((4, 4, 3, 3), layout="torch")
    >>> k[:, :, 1, 1]
    array([[1., 0., 0., 0.],
           [0., 1., 0., 0.],
           [0., 0., 1., 0.],
           [0., 0., 0., 1.]], dtype=float32)
    """
    return Dirac(
        check.integer("groups", groups, minimum=1), check.one_of("layout", layout, tuple(LAYOUTS))
    )


# -- delta-orthogonal -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeltaOrthogonal:
    block_cost: ClassVar[str] = "whole"
    gain: float
    layout: str

    def axes(self, shape: tuple[int, ...]) -> tuple[int, int, tuple[int, ...]]:
        """(input channel axis, output channel axis, the centre tap's index per axis)."""
        if not 3 <= len(shape) <= 5:
            msg = (
                f"delta_orthogonal needs a 3-D, 4-D or 5-D convolution shape; got "
                f"shape={shape} (use orthogonal for 2-D)"
            )
            raise ValueError(msg)
        (in_axis,), (out_axis,), _ = FanSpec(layout=self.layout).resolve_axes(shape)
        centre = tuple(
            0 if axis in (in_axis, out_axis) else (n - 1) // 2 for axis, n in enumerate(shape)
        )
        return in_axis, out_axis, centre

    def sample(self, request: Request) -> np.ndarray:
        shape = request.shape
        in_axis, out_axis, centre = self.axes(shape)
        key = request.draw_key().key
        tap = Request(
            (shape[in_axis], shape[out_axis]), key, request.dtype, None, None, request.threads
        )
        matrix = Orthogonal(self.gain, "xw").sample(tap)  # (in, out), the centre tap
        out = request.allocate()
        out[...] = 0
        if out.size == 0:
            return out
        starts, stops = request.block.starts, request.block.stops
        where: list[slice | int] = []
        for axis, c in enumerate(centre):
            if axis in (in_axis, out_axis):
                where.append(slice(None))
            elif not starts[axis] <= c < stops[axis]:
                return out  # the block misses the centre tap: all zeros
            else:
                where.append(c - starts[axis])
        part = matrix[starts[in_axis] : stops[in_axis], starts[out_axis] : stops[out_axis]]
        request.target(out)[tuple(where)] = part if in_axis < out_axis else part.T
        return out

    def moments(self, shape: tuple[int, ...]) -> tuple[float, float]:
        in_axis, out_axis, _ = self.axes(shape)
        size = math.prod(shape)
        count = min(shape[in_axis], shape[out_axis])  # orthonormal vectors of norm gain
        return 0.0, abs(self.gain) * math.sqrt(count / size) if size else 0.0


@define("delta_orthogonal", "gain · Haar orthogonal (in, out) matrix at the kernel centre")
def delta_orthogonal(gain: float = 1.0, layout: str = "xw") -> Plan:
    r"""A convolution kernel that is an orthogonal matrix at its centre tap and 0
    elsewhere (Xiao et al., 2018).

    .. math::

        W[c_1, \ldots, c_d, :, :] = \mathrm{gain} \cdot Q, \qquad
        c_i = \lfloor (k_i - 1) / 2 \rfloor,

    and 0 at every other tap, with :math:`Q` the Haar-random ``(in, out)``
    matrix of :func:`winit.orthogonal` (layout ``'xw'``): its rows are
    orthonormal when in ≤ out, so the convolution preserves the norm of every
    input at the centre tap (the delta-orthogonal kernel of Xiao et al., which
    makes a deep tanh CNN dynamically isometric at the edge of chaos), and its
    columns are orthonormal otherwise. The centre of an even kernel side is the
    lower middle, :math:`(k - 1) // 2`, as in ``jax.nn.initializers.delta_orthogonal``
    (which refuses in > out; :func:`winit.dirac` puts its 1 at :math:`k // 2`).
    For 3-D, 4-D and 5-D kernels (1-D to 3-D convolutions) in any layout; the
    centre tap lies at those indices of the kernel axes wherever the layout
    puts them. A block (``index=``) needs the whole centre matrix, an
    ``(in, out)`` orthogonal sample, and costs that. For a complex dtype the
    centre is :func:`winit.orthogonal`'s Haar unitary matrix.

    Parameters
    ----------
    gain : float, default 1
        Scale factor.
    layout : {'xw', 'torch', 'torch_transpose', 'xw_transpose'}, default 'xw'
        ``(*kernel, in, out)`` for ``'xw'``, ``(out, in, *kernel)`` for
        ``'torch'``, ``(in, out, *kernel)`` for ``'torch_transpose'`` and
        ``(*kernel, out, in)`` for ``'xw_transpose'``.

    Examples
    --------
    >>> import numpy as np, winit
    >>> k = winit.delta_orthogonal((3, 3, 16, 32), rng=0, dtype="float64")
    >>> q = k[1, 1]
    >>> bool(np.allclose(q @ q.T, np.eye(16))), float(abs(k).sum() - abs(q).sum())
    (True, 0.0)
    >>> t = winit.delta_orthogonal((32, 16, 3, 3), rng=0, dtype="float64", layout="torch")
    >>> bool(np.array_equal(t[:, :, 1, 1].T, q))
    True

    References
    ----------
    L. Xiao, Y. Bahri, J. Sohl-Dickstein, S. S. Schoenholz and J. Pennington,
    "Dynamical Isometry and a Mean Field Theory of CNNs: How to Train
    10,000-Layer Vanilla Convolutional Neural Networks", ICML 2018.
    """
    return DeltaOrthogonal(check.real("gain", gain), check.one_of("layout", layout, tuple(LAYOUTS)))
