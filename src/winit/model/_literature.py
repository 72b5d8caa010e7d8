"""Recipes from the literature: initializations defined by a paper rather than by a
framework's defaults (muP, Fixup, T-Fixup, DeepNet).

Each is a table of rules over the catalog, like the framework recipes of
:mod:`winit.model._recipes`; the paths they recognise follow the naming of the
paper's reference code, stated in each docstring, and every number they use is
a dim of the recipe (``winit.recipe('t_fixup', encoder_depth=6)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._params import ParamSpec, TagValue
from ._recipe import Recipe, Rule, register

_WEIGHTS = ("dense", "conv", "recurrent")


def _norms() -> list[Rule]:
    return [
        Rule("*", "ones", kind="norm_scale", optional=True),
        Rule("*", "zeros", kind="norm_shift", optional=True),
    ]


def _patterns(name: str, value: str | Sequence[str]) -> tuple[str, ...]:
    found = (value,) if isinstance(value, str) else tuple(value)
    if not found or not all(isinstance(p, str) and p for p in found):
        msg = f"{name} must be a path pattern or a sequence of them; got {value!r}"
        raise TypeError(msg)
    return found


# -- muP ---------------------------------------------------------------------------------


def _base_fans(base_shapes: Mapping[str, Any], layout: str) -> dict[str, dict[str, TagValue]]:
    """``{path: {'base_fan_in': .., 'base_fan_out': ..}}`` for every base weight."""
    if not isinstance(base_shapes, Mapping):
        msg = (
            "base_shapes must map parameter paths to base shapes or ParamSpecs; "
            f"got {type(base_shapes).__name__}"
        )
        raise TypeError(msg)
    tags: dict[str, dict[str, TagValue]] = {}
    for path, base in base_shapes.items():
        if isinstance(base, ParamSpec | Mapping):
            spec = ParamSpec.from_config(base)
            if spec.kind not in _WEIGHTS and spec.kind != "other":
                continue  # muP's rules read base fans of weights only
        else:
            shape = tuple(base)
            spec = ParamSpec(shape, "dense" if len(shape) >= 2 else "other", layout=layout)
        if spec.fan_in is not None and spec.fan_out is not None:
            tags[path] = {"base_fan_in": spec.fan_in, "base_fan_out": spec.fan_out}
    return tags


_MUP_OUTPUT = "param_fan_in != base_fan_in and param_fan_out == base_fan_out"
"""muP's output weights: fan-in width-like, fan-out not."""


@register
def mup(
    base_shapes: Mapping[str, Any] | None = None,
    *,
    layout: str = "xw",
    std: float | None = None,
    embedding_std: float = 1.0,
    readout_zero: bool = False,
) -> Recipe:
    r"""The Maximal Update Parametrization (muP) for Adam, as initialization and
    per-parameter learning-rate multipliers (``plan.lr_scales``).

    A weight is classified by comparing its fans with those of the same path in
    the *base* model (the small model whose hyperparameters are tuned), as the
    ``mup`` package's ``set_base_shapes`` does with its ``infshape``: a fan that
    differs from the base one is *width-like*. With :math:`m =
    \mathrm{fan\_in}/\mathrm{base\_fan\_in}` and :math:`v` the variance the
    parameter has at the base shape (:math:`1/\mathrm{base\_fan\_in}`, or
    :math:`\mathrm{std}^2` when ``std`` is given):

    ======================================  =======================  ===================
    parameter                               init variance            ``lr_scale`` (Adam)
    ======================================  =======================  ===================
    hidden weight (both fans width-like)    :math:`v / m`            :math:`1/m`
    output weight (only fan-in width-like)  :math:`v / m^2` (0 if    :math:`1/m`
                                            ``readout_zero``)
    input weight (fan-in not width-like)    :math:`v`                1
    embedding                               ``embedding_std`` ** 2   1
    bias, norm shift                        0                        1
    norm scale                              1                        1
    ======================================  =======================  ===================

    With ``std=None`` this is Table 8 of Yang et al. (2022): hidden
    :math:`1/\mathrm{fan\_in}`, output
    :math:`(1/\mathrm{fan\_in})(\mathrm{base\_fan\_in}/\mathrm{fan\_in})`, input
    :math:`1/\mathrm{fan\_in}`; Adam learning rates
    :math:`\eta\,\mathrm{base\_fan\_in}/\mathrm{fan\_in}` for hidden and output
    weights, :math:`\eta` for the rest. With ``std`` (GPT-style, e.g. 0.02) the
    base variance is constant, as ``mup.init.normal_`` scales it. The ``mup``
    package realizes the output row with a forward multiplier instead
    (``MuReadout``: weights rescaled by :math:`\sqrt{m}`, output times
    :math:`1/m`, Adam learning rate unchanged), which for Adam gives the same
    function and updates; winit only initializes, so it writes the equivalent
    initialization and learning rate. The attention logits' :math:`1/d`
    scaling of muP is the model's, not an initialization. Plain normal, no
    truncation.

    Parameters
    ----------
    base_shapes : mapping of str to ParamSpec, spec config or shape
        The base model: each weight's path to its spec (``winit.torch.specs(base)``,
        whose layouts give the fans) or bare shape (read in ``layout``). Only
        the base fans are kept, as the recipe's tags ``base_fan_in`` and
        ``base_fan_out`` (plain data: the recipe's config round-trips). A weight
        missing here is an error when planned; biases and norms need no base.
    layout : {'xw', 'torch', 'torch_transpose', 'xw_transpose'}, default 'xw'
        How bare base shapes are oriented (PyTorch's ``(out, in)`` is ``'torch'``).
    std : float, optional
        A constant base standard deviation; None: :math:`1/\sqrt{\mathrm{base\_fan\_in}}`.
    embedding_std : float, default 1
        The embeddings' standard deviation (width-independent; PyTorch's
        default ``N(0, 1)``).
    readout_zero : bool, default False
        Output weights zero, as ``MuReadout(readout_zero_init=True)``.

    Source: Yang et al. (2022), *Tensor Programs V: Tuning Large Neural Networks
    via Zero-Shot Hyperparameter Transfer*, arXiv:2203.03466, Tables 3 and 8;
    the ``mup`` package (``mup/shape.py``: ``set_base_shapes``,
    ``mup/layer.py``: ``MuReadout``, ``mup/optim.py``: ``MuAdam``,
    ``mup/init.py``).

    Examples
    --------
    >>> import winit
    >>> def mlp(width):
    ...     return {"fc1.weight": winit.ParamSpec((width, 32), "dense", layout="torch"),
    ...             "fc2.weight": winit.ParamSpec((width, width), "dense", layout="torch"),
    ...             "out.weight": winit.ParamSpec((10, width), "dense", layout="torch")}
    >>> plan = winit.plan(mlp(256), winit.recipe("mup", base_shapes=mlp(64)), 0)
    >>> plan.lr_scales
    {'fc1.weight': 1.0, 'fc2.weight': 0.25, 'out.weight': 0.25}
    >>> [round(row.std * 256, 4) for row in plan.rows][1:]
    [16.0, 8.0]
    """
    tags = _base_fans(base_shapes or {}, layout)
    ratio = "base_fan_in / param_fan_in"
    if std is None:
        hidden, output, fixed = "1 / sqrt(fan_in)", "sqrt(base_fan_in) / fan_in", "1 / sqrt(fan_in)"
    else:
        hidden, output, fixed = f"std * sqrt({ratio})", f"std * {ratio}", "std"
    output_rule = (
        Rule("*", "zeros", kind=_WEIGHTS, when=_MUP_OUTPUT, lr_scale=ratio, optional=True)
        if readout_zero
        else Rule("*", "normal", kind=_WEIGHTS, when=_MUP_OUTPUT, lr_scale=ratio, optional=True,
                  config={"std": output})
    )  # fmt: skip
    dims: dict[str, float | None] = {"embedding_std": embedding_std}
    if std is not None:
        dims["std"] = std
    return Recipe(
        [
            Rule("*", "zeros", kind=("bias", "norm_shift"), optional=True),
            Rule("*", "ones", kind="norm_scale", optional=True),
            Rule("*", "normal", kind="embedding", optional=True,
                 config={"std": "embedding_std"}),
            output_rule,
            Rule("*", "normal", kind=_WEIGHTS, when="param_fan_in != base_fan_in",
                 lr_scale=ratio, optional=True, config={"std": hidden}),
            Rule("*", "normal", kind=_WEIGHTS, optional=True, config={"std": fixed}),
        ],
        name="mup",
        dims=dims,
        tags=tags,
    )  # fmt: skip


# -- Fixup -------------------------------------------------------------------------------


@register
def fixup(
    *,
    branches: int | None = None,
    m: int = 2,
    branch: str | Sequence[str] = "layer*.conv*.weight",
    last: str | Sequence[str] | None = None,
    classifier: str | Sequence[str] = "fc.*",
) -> Recipe:
    r"""Fixup (Zhang et al. 2019): residual networks trained without normalization.

    With :math:`L` = ``branches`` (the number of residual branches, e.g. 8 for
    ResNet-18, 16 for ResNet-50) and :math:`m` = ``m`` layers per branch (2 for
    basic blocks, 3 for bottlenecks):

    ============================================  ===========================================
    parameters                                    distribution
    ============================================  ===========================================
    a branch's last layer (``last``)              0
    other layers of a branch (``branch``)         :math:`N(0, 2/\mathrm{fan\_out}) \cdot
                                                  L^{-1/(2m-2)}` (He, scaled)
    the classification layer (``classifier``),    0
    weight and bias
    Fixup's scalar multipliers (``*scale``)       1
    Fixup's scalar biases (``*bias*``, kind       0
    ``'other'``)
    every other conv and dense weight (stem,      :math:`N(0, 2/\mathrm{fan\_out})` (He)
    shortcut ``downsample``)
    biases, norm shifts; norm scales              0; 1
    ============================================  ===========================================

    Branch layers are identified by path patterns, by default those of the
    reference code and torchvision (``layer1.0.conv1.weight``): ``branch``
    ``'layer*.conv*.weight'`` and ``last`` ``f'layer*.conv{m}.weight'`` (chosen
    when the recipe is built: ``winit.recipe('fixup', m=3)`` zeroes ``conv3``);
    the shortcut ``layer2.0.downsample.weight`` is not a branch layer. He normal uses
    fan-out (``out_channels`` times the kernel size), as the reference code.
    There the stem convolution keeps PyTorch's default; here it is He normal, as
    the paper's "standard initialization" for the layers outside branches.
    Plain normal, no truncation.

    ``branches`` is not inferred from the paths: their layer index (the first
    all-digit segment) counts blocks within a stage in this naming, not
    branches. The plan asks for it if it is not given.

    Source: ``imagenet/models/fixup_resnet_imagenet.py`` and
    ``cifar/models/fixup_resnet_cifar.py`` (``FixupResNet.__init__``) in
    hongyi-zhang/Fixup; Zhang, Dauphin and Ma (2019), *Fixup Initialization:
    Residual Learning Without Normalization*, ICLR, arXiv:1901.09321.

    Examples
    --------
    >>> import winit
    >>> conv = winit.ParamSpec((64, 64, 3, 3), "conv", layout="torch")
    >>> params = {"layer1.0.conv1.weight": conv, "layer1.0.conv2.weight": conv}
    >>> rows = winit.plan(params, winit.recipe("fixup", branches=8), 0).rows
    >>> [row.init.name for row in rows], round(rows[0].std * (64 * 9 / 2 * 8) ** 0.5, 6)
    (['normal', 'zeros'], 1.0)
    """
    last_ = _patterns("last", f"layer*.conv{m}.weight" if last is None else last)
    return Recipe(
        [
            *[Rule(p, "zeros", optional=True) for p in last_],
            *[Rule(p, "normal", kind=("conv", "dense"), optional=True,
                   config={"std": "sqrt(2 / fan_out) * branches ** (-1 / (2 * m - 2))"})
              for p in _patterns("branch", branch)],
            *[Rule(p, "zeros", optional=True) for p in _patterns("classifier", classifier)],
            Rule("*scale", "ones", kind="other", optional=True),
            Rule("*bias*", "zeros", kind="other", optional=True),
            Rule("*", "normal", kind=("conv", "dense"), optional=True,
                 config={"std": "sqrt(2 / fan_out)"}),
            Rule("*", "zeros", kind="bias", optional=True),
            *_norms(),
        ],
        name="fixup",
        dims={"branches": branches, "m": m},
    )  # fmt: skip


# -- T-Fixup and DeepNet: fairseq-style transformers --------------------------------------

_ENCODER = "*encoder.*"
"""A parameter of the encoder stack (``encoder.layers.3...``, ``model.encoder...``);
the decoder's ``encoder_attn`` is not (``encoder_attn.`` is not ``encoder.``)."""


def _stack_rules(
    names: tuple[str, ...], init: str, encoder: str, decoder: str, **options: Any
) -> list[Rule]:
    """For each module name, a rule for the encoder's and one for the rest (decoder)."""
    rules = []
    for where, gain in ((f"{_ENCODER}.", encoder), ("*.", decoder)):
        for name in names:
            rules.append(Rule(f"{where}{name}.weight", init, kind="dense", optional=True,
                              config={"gain": gain}, **options))  # fmt: skip
    return rules


@register
def t_fixup(
    *,
    depth: int | None = None,
    encoder_depth: int | str | None = "depth",
    decoder_depth: int | str | None = "depth",
    qk_gain: float = 2**-0.5,
) -> Recipe:
    r"""T-Fixup (Huang et al. 2020): a Transformer trained without warmup or layer
    normalization.

    With :math:`N_e` = ``encoder_depth`` and :math:`N_d` = ``decoder_depth``
    (both ``depth`` unless given; ``depth`` is inferred from the paths) and
    :math:`d` the embedding dimension:

    ===============================================  ========================================
    parameters                                       distribution
    ===============================================  ========================================
    encoder ``self_attn.v_proj``, ``out_proj``,      Xavier uniform, gain
    ``fc1``, ``fc2`` weights                         :math:`0.67\,N_e^{-1/4}`
    decoder ``v_proj``, ``out_proj`` (self and       Xavier uniform, gain :math:`(9N_d)^{-1/4}`
    encoder attention), ``fc1``, ``fc2`` weights
    ``q_proj``, ``k_proj`` weights                   Xavier uniform, gain ``qk_gain``
                                                     (:math:`1/\sqrt{2}`)
    encoder ``embed_tokens``                         :math:`N(0, d^{-1}) \cdot (9N_e)^{-1/4}`
    decoder ``embed_tokens``                         :math:`N(0, d^{-1}) \cdot (9N_d)^{-1/4}`
    other embeddings (learned positions)             :math:`N(0, d^{-1})`
    the decoder's ``embed_out`` (untied output)      :math:`N(0, d^{-1})`
    other dense weights                              Xavier uniform
    biases; norm scales, shifts                      0; 1, 0
    ===============================================  ========================================

    Xavier everywhere but the embeddings, embeddings :math:`N(0, d^{-1/2})` in
    the paper's notation (standard deviation :math:`d^{-1/2}`, as fairseq's
    ``Embedding``), then the paper's scalings. As the reference code, ``v_proj``
    is scaled from plain Xavier (it multiplies fairseq's :math:`1/\sqrt{2}` gain
    back by :math:`\sqrt{2}`) while ``q_proj`` and ``k_proj`` keep fairseq's
    :math:`1/\sqrt{2}`. With shared encoder and decoder embeddings (one tied
    weight, first named under the encoder) only the encoder's scaling applies,
    as in the reference code. No truncation.

    Paths follow fairseq: a parameter under ``encoder.`` (any prefix, e.g.
    ``model.encoder.``) is the encoder's, every other one the decoder's;
    modules are recognised by their names (``*.self_attn.v_proj.weight``,
    ``*.fc1.weight``, ``*embed_tokens.weight``, ``*embed_out``).

    Source: ``fairseq/modules/transformer_layer.py``
    (``TransformerEncoderLayer.fixup_initialization``,
    ``TransformerDecoderLayer.fixup_initialization``) and
    ``fairseq/models/transformer.py`` (``TransformerEncoder``,
    ``TransformerDecoder``, ``Embedding``, ``Linear``) in layer6ai-labs/T-Fixup;
    Huang, Perez, Ba and Volkovs (2020), *Improving Transformer Optimization
    Through Better Initialization*, ICML.

    Examples
    --------
    >>> import winit
    >>> fc = winit.ParamSpec((256, 64), "dense", layout="torch")
    >>> params = {f"encoder.layers.{i}.fc1.weight": fc for i in range(6)}
    >>> row = winit.plan(params, "t_fixup", 0).rows[0]
    >>> row.init.config["gain"] == 0.67 * 6 ** -0.25
    True
    """
    enc, dec = "0.67 * encoder_depth ** (-1 / 4)", "(9 * decoder_depth) ** (-1 / 4)"
    embed = "1 / sqrt(fan_out)"
    return Recipe(
        [
            *_stack_rules(("v_proj", "out_proj", "fc1", "fc2"), "xavier_uniform", enc, dec),
            Rule("*.q_proj.weight", "xavier_uniform", kind="dense", optional=True,
                 config={"gain": "qk_gain"}),
            Rule("*.k_proj.weight", "xavier_uniform", kind="dense", optional=True,
                 config={"gain": "qk_gain"}),
            Rule(f"{_ENCODER}embed_tokens.weight", "normal", kind="embedding", optional=True,
                 config={"std": f"(9 * encoder_depth) ** (-1 / 4) * {embed}"}),
            Rule("*embed_tokens.weight", "normal", kind="embedding", optional=True,
                 config={"std": f"(9 * decoder_depth) ** (-1 / 4) * {embed}"}),
            Rule("*", "normal", kind="embedding", optional=True, config={"std": embed}),
            Rule("*embed_out", "normal", optional=True, config={"std": "1 / sqrt(fan_in)"}),
            Rule("*", "xavier_uniform", kind="dense", optional=True),
            Rule("*", "zeros", kind="bias", optional=True),
            *_norms(),
        ],
        name="t_fixup",
        dims={"depth": depth, "encoder_depth": encoder_depth, "decoder_depth": decoder_depth,
              "qk_gain": qk_gain},
    )  # fmt: skip


_DEEPNET_BETA = {
    False: ("(8 * encoder_depth) ** (-1 / 4)", "(8 * decoder_depth) ** (-1 / 4)"),
    True: ("0.87 * (encoder_depth ** 4 * decoder_depth) ** (-1 / 16)",
           "(12 * decoder_depth) ** (-1 / 4)"),
}  # fmt: skip


@register
def deepnet(
    *,
    depth: int | None = None,
    encoder_decoder: bool = False,
    encoder_depth: int | str | None = "depth",
    decoder_depth: int | str | None = "depth",
    encoder_beta: float | str | None = None,
    decoder_beta: float | str | None = None,
) -> Recipe:
    r"""DeepNet's initialization (Wang et al. 2022), for Post-LN Transformers with
    DeepNorm residuals :math:`x_{l+1} = \mathrm{LN}(\alpha x_l + G(x_l))`.

    ====================================================  ================================
    parameters                                            distribution
    ====================================================  ================================
    ``fc1``, ``fc2`` (the FFN), ``v_proj``, ``out_proj``  Xavier normal, gain :math:`\beta`
    weights
    ``q_proj``, ``k_proj`` weights                        Xavier normal, gain 1
    other dense weights                                   Xavier normal, gain 1
    embeddings; the untied output projection              :math:`N(0, d^{-1})`
    (``output_projection``, fairseq's ``embed_out``)
    biases; norm scales, shifts                           0; 1, 0
    ====================================================  ================================

    with :math:`\beta`, and the residual multiplier :math:`\alpha` the model
    itself must apply, from Table 1 of the paper (:math:`N` encoder layers,
    :math:`M` decoder layers):

    =====================================  =========================  ===========================
    architecture                           :math:`\alpha`             :math:`\beta`
    =====================================  =========================  ===========================
    encoder-only or decoder-only           :math:`(2N)^{1/4}`         :math:`(8N)^{-1/4}`
    encoder-decoder: encoder               :math:`0.81(N^4M)^{1/16}`  :math:`0.87(N^4M)^{-1/16}`
    encoder-decoder: decoder               :math:`(3M)^{1/4}`         :math:`(12M)^{-1/4}`
    =====================================  =========================  ===========================

    :math:`N` = ``encoder_depth`` and :math:`M` = ``decoder_depth`` (both
    ``depth``, inferred from the paths, unless given); ``encoder_decoder=True``
    selects the second and third rows. The betas are dims (``encoder_beta``,
    ``decoder_beta``), expressions of the depths unless given. Paths follow
    fairseq and torchscale: a parameter under ``encoder.`` is the encoder's,
    every other one (``decoder.``, or a single stack's ``layers.``) uses the
    decoder's :math:`\beta`. Embeddings :math:`N(0, d^{-1/2})` in fairseq's
    notation (standard deviation :math:`d^{-1/2}`), which the paper leaves
    unchanged. No truncation.

    This follows the paper's pseudocode (Figure 2, ``xavier_normal_(w,
    gain=beta)``). torchscale instead keeps fairseq's Xavier *uniform* with
    gain :math:`1/\sqrt{2}` for ``q/k/v_proj``, PyTorch's default for ``fc1``
    and ``fc2``, and divides the ``fc1``, ``fc2``, ``out_proj`` and ``v_proj``
    parameters (biases included) by :math:`\beta^{-1}`; for an encoder-decoder's
    encoder it divides by :math:`(N^4M)^{1/16}/1.15`, i.e. scales by
    :math:`1.15(N^4M)^{-1/16}` where the paper has :math:`0.87 = 1/1.15`.

    Source: Wang, Ma, Dong, Huang, Zhang and Wei (2022), *DeepNet: Scaling
    Transformers to 1,000 Layers*, arXiv:2203.00555, Figure 2 and Table 1;
    ``torchscale/architecture/encoder.py`` and ``decoder.py`` (the ``deepnorm``
    branches of ``Encoder.__init__`` and ``Decoder.__init__``) in
    microsoft/torchscale.

    Examples
    --------
    >>> import winit
    >>> w = winit.ParamSpec((64, 64), "dense", layout="torch")
    >>> params = {f"layers.{i}.self_attn.{p}.weight": w
    ...           for i in range(12) for p in ("q_proj", "v_proj")}
    >>> plan = winit.plan(params, "deepnet", 0)
    >>> [round(r.init.config["gain"], 4) for r in plan.rows[:2]], round((8 * 12) ** -0.25, 4)
    ([1.0, 0.3195], 0.3195)
    """
    betas = _DEEPNET_BETA[bool(encoder_decoder)]
    enc = betas[0] if encoder_beta is None else encoder_beta
    dec = betas[1] if decoder_beta is None else decoder_beta
    return Recipe(
        [
            *_stack_rules(("v_proj", "out_proj", "fc1", "fc2"), "xavier_normal",
                          "encoder_beta", "decoder_beta"),
            Rule("*", "normal", kind="embedding", optional=True,
                 config={"std": "1 / sqrt(fan_out)"}),
            Rule("*output_projection.weight", "normal", kind="dense", optional=True,
                 config={"std": "1 / sqrt(fan_in)"}),
            Rule("*embed_out", "normal", optional=True, config={"std": "1 / sqrt(fan_in)"}),
            Rule("*", "xavier_normal", kind="dense", optional=True),
            Rule("*", "zeros", kind="bias", optional=True),
            *_norms(),
        ],
        name="deepnet",
        dims={"depth": depth, "encoder_depth": encoder_depth, "decoder_depth": decoder_depth,
              "encoder_beta": enc, "decoder_beta": dec},
    )  # fmt: skip
