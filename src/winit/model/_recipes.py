"""The shipped recipes: the frameworks' defaults and the model families' reference
initializations, each a table of rules over the catalog.

Every recipe cites the code it reproduces; the tests check each against that
code. Rules read the parameter's kind and tags (the module type, which the
bridges record) and the recipe's dims, never a framework object.
"""

from __future__ import annotations

import math

from ._recipe import Recipe, Rule, register

_RNN = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
# PyTorch's, and Flax's nn.ConvTranspose (tagged by winit.jax.modules)
_CONV_TRANSPOSE = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "ConvTranspose")
_LSTM = ("LSTM", "LSTMCell", "ConvLSTMCell")  # Keras tags the cell that owns the variables
_BOUND = "1 / sqrt(fan_in)"


def _norms() -> list[Rule]:
    return [
        Rule("*", "ones", kind="norm_scale", optional=True),
        Rule("*", "zeros", kind="norm_shift", optional=True),
    ]


@register
def simple(*, weights: str = "he_normal") -> Recipe:
    """Every weight from one initializer, biases and shifts zero, norm scales one.

    Dense, conv and recurrent weights get ``weights`` (any fan-based catalog
    name: ``'he_normal'``, ``'glorot_uniform'``, ``'lecun_normal'``, ...) with
    their own fans; embeddings get ``N(0, 1)``; other parameters are an error.

    Examples
    --------
    >>> import winit
    >>> winit.recipe("simple", weights="glorot_uniform").rules[0]
    winit.Rule('*', winit.glorot_uniform, kind=('dense', 'conv', 'recurrent'), optional=True)
    """
    return Recipe(
        [
            Rule("*", weights, kind=("dense", "conv", "recurrent"), optional=True),
            Rule("*", "normal", kind="embedding", optional=True),
            Rule("*", "zeros", kind="bias", optional=True),
            *_norms(),
        ],
        name="simple",
        dims={},
    )


@register
def torch_default() -> Recipe:
    r"""What PyTorch's modules sample when constructed (their ``reset_parameters``).

    Rules, first match wins:

    - inside an ``nn.Transformer`` (tag ``reset_by``): every weight of two or more
      dimensions, Xavier uniform over the whole tensor (its constructor's
      ``_reset_parameters``); the rest as below;
    - RNN, LSTM, GRU (and cells): every weight and bias: :math:`U(\pm
      1/\sqrt{\mathrm{hidden}})`;
    - MultiheadAttention: packed ``in_proj_weight``: Xavier uniform over the whole packed
      matrix;
    - MultiheadAttention: ``q/k/v_proj_weight``: Xavier uniform, each;
    - MultiheadAttention: ``in_proj_bias``, ``out_proj.bias``: 0;
    - MultiheadAttention: ``bias_k``, ``bias_v``: Xavier normal;
    - Bilinear weight and bias: :math:`U(\pm 1/\sqrt{\mathrm{in1}})`;
    - ConvTranspose weight and bias: as Linear, with PyTorch's fan-in ``weight.size(1) *
      kernel`` (Flax's ``nn.ConvTranspose`` too, tagged by :func:`winit.jax.modules`);
    - Linear, Conv weight: ``kaiming_uniform_(a=sqrt(5))``, that is :math:`U(\pm
      1/\sqrt{\mathrm{fan\_in}})`;
    - Linear, Conv bias: :math:`U(\pm 1/\sqrt{\mathrm{fan\_in}})`;
    - Embedding, EmbeddingBag: :math:`N(0, 1)`, the padding row 0;
    - PReLU weight: its ``init`` (tag ``init_value``);
    - norm weight, bias: 1, 0.

    Source: ``torch/nn/modules/{linear,conv,sparse,rnn,activation,normalization,
    batchnorm}.py`` in PyTorch 2.x.
    """
    leaky = {"nonlinearity": "leaky_relu", "negative_slope": math.sqrt(5)}
    from .._registry import get

    kaiming = get("kaiming_uniform").configure(**leaky)
    hidden = "1 / sqrt(hidden_size)"
    return Recipe(
        [
            Rule("*", "xavier_uniform", kind=("dense", "conv", "embedding", "recurrent"),
                 where={"reset_by": "Transformer"},
                 whole=True, optional=True),
            Rule("*", "uniform", where={"module": _RNN}, optional=True,
                 config={"low": f"-{hidden}", "high": hidden}),
            Rule("*in_proj_weight", "xavier_uniform", where={"module": "MultiheadAttention"},
                 whole=True, optional=True),
            Rule("*_proj_weight", "xavier_uniform", where={"module": "MultiheadAttention"},
                 optional=True),
            Rule("*bias_?", "xavier_normal", where={"module": "MultiheadAttention"},
                 optional=True),
            Rule("*", "zeros", kind="bias", where={"module": "MultiheadAttention"}, optional=True),
            Rule("*out_proj.bias", "zeros", where={"parent": "MultiheadAttention"},
                 optional=True),
            Rule("*", "uniform", where={"module": "Bilinear"}, optional=True,
                 config={"low": "-1 / sqrt(in1_features)", "high": "1 / sqrt(in1_features)"}),
            Rule("*", kaiming, kind="conv", where={"module": _CONV_TRANSPOSE}, optional=True,
                 config={"fan_in": "param_fan_out"}),
            Rule("*", "uniform", kind="bias", where={"module": _CONV_TRANSPOSE}, optional=True,
                 config={"low": "-1 / sqrt(param_fan_out)", "high": "1 / sqrt(param_fan_out)"}),
            Rule("*", kaiming, kind=("dense", "conv"), optional=True),
            Rule("*", "uniform", kind="bias", optional=True,
                 config={"low": f"-{_BOUND}", "high": _BOUND}),
            Rule("*", "normal", kind="embedding", optional=True),
            Rule("*", "constant", where={"module": "PReLU"}, optional=True,
                 config={"value": "init_value"}),
            *_norms(),
        ],
        name="torch_default",
    )  # fmt: skip


@register
def keras_default() -> Recipe:
    """What Keras 3 layers sample by default.

    Dense, EinsumDense, Conv and the input kernels of recurrent layers:
    ``glorot_uniform`` (Keras' fans: the last two axes are in and out, the rest
    the receptive field, as winit's ``'xw'`` layout); recurrent kernels:
    ``orthogonal`` over the whole fused matrix; embeddings ``U(-0.05, 0.05)``;
    biases 0 except an LSTM's forget gate (sub-block ``f``, Keras'
    ``unit_forget_bias=True``; a cell tagged ``unit_forget_bias=False`` keeps
    0), 1; norm scales 1, shifts 0.

    Source: ``keras/src/layers/core/{dense,embedding}.py``,
    ``keras/src/layers/rnn/lstm.py`` and ``keras/src/layers/convolutional/base_conv.py``
    in Keras 3.
    """
    return Recipe(
        [
            Rule("*", "orthogonal", kind="recurrent", whole=True, optional=True),
            Rule("*", "glorot_uniform", kind=("dense", "conv"), whole=True, optional=True),
            Rule("*", "uniform", kind="embedding", optional=True,
                 config={"low": -0.05, "high": 0.05}),
            Rule("*[f]", "ones", kind="bias", optional=True,
                 where={"module": _LSTM, "unit_forget_bias": (True, None)}),
            Rule("*", "zeros", kind="bias", optional=True),
            *_norms(),
        ],
        name="keras_default",
    )  # fmt: skip


@register
def flax_default() -> Recipe:
    """What Flax (linen) modules sample by default.

    Dense, DenseGeneral and Conv kernels: ``lecun_normal``, which in JAX is a
    truncated normal at two standard deviations rescaled to variance
    ``1/fan_in`` (winit's ``lecun_truncated_normal``); recurrent kernels
    ``orthogonal``; ``Embed``: ``N(0, 1/features)``; biases 0; norm scales 1,
    shifts 0; ``BatchNorm``'s running statistics (linen's collection
    ``batch_stats``, nnx's ``BatchStat``; tag ``statistic``, as :mod:`winit.jax`
    reads them): ``mean`` 0, ``var`` 1.

    Source: ``flax/linen/{linear,recurrent,normalization}.py`` and
    ``jax/_src/nn/initializers.py``.
    """
    return Recipe(
        [
            Rule("*", "orthogonal", kind="recurrent", whole=True, optional=True),
            Rule("*", "lecun_truncated_normal", kind=("dense", "conv"), optional=True),
            Rule("*", "normal", kind="embedding", optional=True,
                 config={"std": "1 / sqrt(fan_out)"}),
            Rule("*", "zeros", kind="bias", optional=True),
            Rule("*", "zeros", where={"statistic": "mean"}, optional=True),
            Rule("*", "ones", where={"statistic": "var"}, optional=True),
            *_norms(),
        ],
        name="flax_default",
    )  # fmt: skip


def _transformers_rules() -> list[Rule]:
    """The rules of transformers' ``PreTrainedModel._init_weights``."""
    return [
        Rule("*", "xavier_uniform", kind=("dense", "recurrent"), where={"module": "LSTM"},
             whole=True, optional=True),
        Rule("*", "zeros", kind="bias", where={"module": "LSTM"}, optional=True),
        *torch_default().rules[1:6],  # MultiheadAttention: torch's own _reset_parameters
        Rule("*", "normal", kind=("dense", "conv", "embedding"), optional=True,
             config={"std": "std"}),
        Rule("*", "zeros", kind="bias", optional=True),
        *_norms(),
    ]  # fmt: skip


def _hf_std(std: float | str | None) -> float | str:
    """A Hugging Face recipe's ``std``: the number given, else the default ``'0.02'``
    (a dim given as an expression), which the model's ``initializer_range`` replaces
    when a bridge reads one off its config."""
    return "0.02" if std is None else std





@register
def transformers_default(*, std: float | str | None = None) -> Recipe:
    """Hugging Face transformers' generic ``PreTrainedModel._init_weights``.

    Linear, Conv and Embedding weights ``N(0, std)`` (``std`` is the config's
    ``initializer_range``; the padding row 0), biases 0, LSTM weights Xavier
    uniform and biases 0, MultiheadAttention as PyTorch, norm weights 1 and
    biases 0. Plain normal: nothing is truncated.

    ``std`` defaults to the model config's ``initializer_range`` where a bridge
    reads one (the plan's ``dims_source`` says ``'model'``), else 0.02; a
    number given here wins over the model's.

    Source: ``transformers/modeling_utils.py`` (``PreTrainedModel._init_weights``),
    transformers 5.x.
    """
    return Recipe(_transformers_rules(), name="transformers_default", dims={"std": _hf_std(std)})


@register
def gpt2(*, std: float | str | None = None, depth: int | None = None) -> Recipe:
    r"""GPT-2 as Hugging Face and nanoGPT initialize it.

    Every Linear and Conv1D weight and every embedding :math:`N(0, \mathrm{std}^2)`
    (``std`` = ``initializer_range``, 0.02), the residual projections
    ``*.c_proj.weight`` (attention and MLP) :math:`N(0, (\mathrm{std}/\sqrt{2L})^2)`
    with :math:`L` = ``depth`` = ``n_layer``, biases 0, LayerNorms 1 and 0. Plain
    normal (no truncation). The tied ``lm_head`` is the token embedding.

    ``std`` defaults to the model config's ``initializer_range`` where a bridge
    reads one (the plan's ``dims_source`` says ``'model'``), else 0.02; a
    number given here wins over the model's.

    Source: ``transformers/models/gpt2/modeling_gpt2.py``
    (``GPT2PreTrainedModel._init_weights``); Radford et al. (2019); nanoGPT's
    ``model.py`` (``c_proj.weight``: ``0.02/sqrt(2 * n_layer)``).
    """
    return Recipe(
        [
            Rule("*.c_proj.weight", "normal", kind="dense", optional=True,
                 config={"std": "std / sqrt(2 * depth)"}),
            *_transformers_rules(),
        ],
        name="gpt2",
        dims={"std": _hf_std(std), "depth": depth},
    )  # fmt: skip


@register
def bert(*, std: float | str | None = None) -> Recipe:
    """BERT as Hugging Face initializes it: transformers' generic rules (Linear and
    embedding weights ``N(0, 0.02)``, biases 0, LayerNorm 1 and 0) and the
    prediction head's own bias (``*.predictions.bias``) 0.

    Google's original TensorFlow BERT used a truncated normal at 2 standard
    deviations (``truncated_normal_initializer(0.02)``); transformers' PyTorch
    BERT, reproduced here, does not truncate.

    ``std`` defaults to the model config's ``initializer_range`` where a bridge
    reads one (the plan's ``dims_source`` says ``'model'``), else 0.02; a
    number given here wins over the model's.

    Source: ``transformers/models/bert/modeling_bert.py``
    (``BertPreTrainedModel._init_weights``).
    """
    return Recipe(
        [Rule("*.predictions.bias", "zeros", optional=True), *_transformers_rules()],
        name="bert",
        dims={"std": _hf_std(std)},
    )


@register
def llama(*, std: float | str | None = None) -> Recipe:
    """Llama as Hugging Face initializes it: every Linear and the token embedding
    ``N(0, std)`` (``initializer_range``, 0.02; no depth scaling, no truncation),
    RMSNorm weights 1.

    ``std`` defaults to the model config's ``initializer_range`` where a bridge
    reads one (the plan's ``dims_source`` says ``'model'``), else 0.02; a
    number given here wins over the model's.

    Source: ``transformers/models/llama/modeling_llama.py`` (which keeps
    ``PreTrainedModel._init_weights``).
    """
    return Recipe(_transformers_rules(), name="llama", dims={"std": _hf_std(std)})


def _normal_rules(patterns: tuple[str, ...], std: str, **options: object) -> list[Rule]:
    """One plain-normal rule per pattern, all with the standard deviation ``std``."""
    return [Rule(p, "normal", config={"std": std}, **options) for p in patterns]  # type: ignore[arg-type]


@register
def t5(
    *, factor: float | str | None = None, d_model: int | None = None, d_kv: int | None = None
) -> Recipe:
    r"""T5 as Hugging Face initializes it (``T5PreTrainedModel._init_weights``).

    With :math:`f` = ``factor`` (the config's ``initializer_factor``, 1.0):

    =========================================  ==========================================
    parameters                                 distribution
    =========================================  ==========================================
    attention ``q`` (``*.q.*``)                :math:`N(0, f^2/(d_\mathrm{model} d_\mathrm{kv}))`,
                                               i.e. :math:`f^2/(\mathrm{fan\_in}\, d_\mathrm{kv})`
    attention ``k``, ``v``, ``o``; MLP         :math:`N(0, f^2/\mathrm{fan\_in})`: fan-in
    ``wi``, ``wi_0``, ``wi_1``, ``wo``; the    :math:`d_\mathrm{model}` for ``k``, ``v``,
    classification head's ``dense`` and        ``wi*`` and the heads,
    ``out_proj``; ``qa_outputs``               :math:`n_\mathrm{heads} d_\mathrm{kv}` for
                                               ``o``, :math:`d_\mathrm{ff}` for ``wo``
    ``*.relative_attention_bias.*``            :math:`N(0, f^2/d_\mathrm{model})`
    every other Linear (``classifier``; the    :math:`N(0, f^2)`
    ``lm_head``, tied to ``shared`` in
    transformers 5) and embedding
    (``shared``)
    biases                                     0
    ``T5LayerNorm`` weight                     :math:`f`
    =========================================  ==========================================

    The stds are written through each weight's own ``fan_in`` where it equals
    the config's dimension, so only ``d_model`` (for the relative attention
    bias, a ``(buckets, heads)`` table) and ``d_kv`` (for ``q``) are dims. Plain
    normal: nothing is truncated. Paths are matched by their last module names
    (``*.q.*`` covers PyTorch's ``q.weight`` and Flax's ``q.kernel``).

    Source: ``transformers/models/t5/modeling_t5.py``
    (``T5PreTrainedModel._init_weights``, which first applies
    ``PreTrainedModel._init_weights`` with ``std = initializer_factor``),
    transformers 5.x; Raffel et al. (2020), *Exploring the Limits of Transfer
    Learning with a Unified Text-to-Text Transformer*, JMLR 21.

    Examples
    --------
    >>> import winit
    >>> params = {"block.0.layer.0.SelfAttention.q.weight":
    ...           winit.ParamSpec((64, 32), "dense", layout="torch")}
    >>> row = winit.plan(params, winit.recipe("t5", d_model=32, d_kv=8), 0).rows[0]
    >>> round(row.std * (32 * 8) ** 0.5, 6)
    1.0
    """
    scaled = (
        "*.k.*", "*.v.*", "*.o.*", "*.wi.*", "*.wi_?.*", "*.wo.*",
        "*classification_head.dense.*", "*classification_head.out_proj.*", "*qa_outputs.*",
    )  # fmt: skip
    return Recipe(
        [
            Rule("*.relative_attention_bias.*", "normal", kind="embedding", optional=True,
                 config={"std": "factor / sqrt(d_model)"}),
            Rule("*.q.*", "normal", kind="dense", optional=True,
                 config={"std": "factor / sqrt(fan_in * d_kv)"}),
            *_normal_rules(scaled, "factor / sqrt(fan_in)", kind="dense", optional=True),
            Rule("*", "normal", kind=("dense", "conv", "embedding"), optional=True,
                 config={"std": "factor"}),
            Rule("*", "zeros", kind=("bias", "norm_shift"), optional=True),
            Rule("*", "constant", kind="norm_scale", optional=True, config={"value": "factor"}),
        ],
        name="t5",
        dims={"factor": "1.0" if factor is None else factor, "d_model": d_model, "d_kv": d_kv},
    )  # fmt: skip


_MEGATRON_OUTPUT = (
    "*attention.dense.weight",  # legacy ParallelAttention.dense (self_attention, inter_attention)
    "*.dense_4h_to_h.weight",  # legacy ParallelMLP.dense_4h_to_h
    "*.linear_proj.weight",  # Megatron-Core attention's linear_proj
    "*.linear_fc2.weight*",  # Megatron-Core MLP's linear_fc2 (grouped experts: weight0, ...)
)


@register
def megatron(*, std: float | None = 0.02, depth: int | None = None) -> Recipe:
    r"""Megatron-LM's initialization (GPT, BERT and T5 models, legacy and Megatron-Core).

    ============================================  ===========================================
    parameters                                    distribution
    ============================================  ===========================================
    the output projections of attention and MLP   :math:`N(0, (\mathrm{std}/\sqrt{2L})^2)`,
    (paths below)                                 ``scaled_init_method_normal``
    every other weight and embedding (word,       :math:`N(0, \mathrm{std}^2)`,
    position, token type; the untied output       ``init_method_normal``
    layer)
    biases                                        0
    layer norms (also Transformer Engine's        weight 1, bias 0
    fused ``layer_norm_weight/bias``)
    ============================================  ===========================================

    ``std`` is ``init_method_std`` (0.02) and :math:`L` = ``depth`` =
    ``num_layers``. Plain normal, no truncation. The output projections are
    matched by path: the legacy model's ``*attention.dense.weight``
    (``self_attention.dense``, ``inter_attention.dense``) and
    ``*.dense_4h_to_h.weight``; Megatron-Core's ``*.linear_proj.weight``
    (self- and cross-attention) and ``*.linear_fc2.weight*`` (dense MLP, MoE
    experts, grouped experts' ``weight0``, ...). Megatron's parallel layers are
    not ``torch.nn.Linear``, so the weights are matched whatever their kind
    (a bridge may call them ``'other'``). Hybrid (Mamba) models scale by
    :math:`\sqrt{L}` instead of :math:`\sqrt{2L}`, and ``use_mup`` changes the
    stds; neither is reproduced here.

    Source: ``megatron/core/utils.py`` (``init_method_normal``,
    ``scaled_init_method_normal``), ``megatron/core/transformer/transformer_config.py``
    (``TransformerConfig.__post_init__``: ``output_layer_init_method``),
    ``attention.py`` and ``mlp.py`` (``linear_proj``, ``linear_fc2``), the legacy
    ``megatron/legacy/model/transformer.py``; Shoeybi et al. (2019),
    *Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
    Parallelism*, arXiv:1909.08053.

    Examples
    --------
    >>> import winit
    >>> params = {f"decoder.layers.{i}.self_attention.linear_proj.weight":
    ...           winit.ParamSpec((64, 64), "dense", layout="torch") for i in range(8)}
    >>> row = winit.plan(params, "megatron", 0).rows[0]
    >>> round(row.std, 6) == round(0.02 / 4, 6)
    True
    """
    return Recipe(
        [
            *_normal_rules(_MEGATRON_OUTPUT, "std / sqrt(2 * depth)", optional=True),
            Rule("*layer_norm_weight", "ones", optional=True),
            Rule("*layer_norm_bias", "zeros", optional=True),
            *_norms(),
            Rule("*", "zeros", kind="bias", optional=True),
            Rule("*", "normal", kind=("dense", "conv", "embedding", "other"), optional=True,
                 config={"std": "std"}),
        ],
        name="megatron",
        dims={"std": std, "depth": depth},
    )  # fmt: skip


def _trunc_abs(std: str, cut: float) -> dict[str, str]:
    """A truncated normal's config with the absolute bounds ``±cut`` (PyTorch's
    ``trunc_normal_(a=-cut, b=cut)``), in winit's units of ``std``."""
    return {"std": std, "lower": f"-{cut} / ({std})", "upper": f"{cut} / ({std})"}


@register
def torchtitan_llama3(
    *, std: float | None = 0.02, depth: int | None = None, depth_init: bool | int = True
) -> Recipe:
    r"""torchtitan's Llama 3 (``Transformer.init_weights``).

    =====================================================  ====================================
    parameters                                             distribution
    =====================================================  ====================================
    ``tok_embeddings.weight``                              :math:`N(0, 1)`
    ``wq``, ``wk``, ``wv`` (or the fused ``wqkv``),        :math:`N(0, \mathrm{std}^2)`
    ``feed_forward.w1``                                    truncated to :math:`[-2, 2]`
    ``wo``, ``feed_forward.w2``, ``feed_forward.w3``       :math:`N(0, s_\ell^2)` truncated to
                                                           :math:`[-2, 2]`
    ``output.weight`` (or ``lm_head.weight``)              :math:`N(0, 1/\mathrm{dim})`
                                                           truncated to :math:`\pm 3\sigma`
    RMSNorm weights                                        1
    biases                                                 0
    =====================================================  ====================================

    with :math:`s_\ell = \mathrm{std}/\sqrt{2(\ell + 1)}` for the block of layer
    index :math:`\ell` when ``depth_init`` (the default), else
    :math:`\mathrm{std}/\sqrt{2L}` with :math:`L` = ``depth`` = ``n_layers``;
    ``std`` = 0.02 and :math:`\mathrm{dim}` is the output projection's fan-in.

    Truncation, exactly as the source: ``nn.init.trunc_normal_`` with its
    default *absolute* bounds ``a=-2, b=2``, which at std 0.02 are
    :math:`\pm 100\sigma` (winit's bounds ``lower = -2/std``, ``upper =
    2/std``: in effect untruncated); the output projection is cut at
    ``a = -3 dim**-0.5``, ``b = 3 dim**-0.5``, i.e. :math:`\pm 3\sigma`.
    ``std`` is the normal's before truncation, as in PyTorch. (Since February
    2026 torchtitan calls ``trunc_normal_`` in float32 and casts; the
    distribution is the same.)

    ``depth_init`` is a dim (1 or 0, as dims are numbers) read by the
    expression ``std / sqrt(2 * (layer + 1 if depth_init else depth))``.

    Source: ``torchtitan/models/llama3/model/model.py`` (``Attention``,
    ``FeedForward``, ``TransformerBlock`` and ``Transformer.init_weights``) in
    torchtitan up to 2026-02; the later ``torchtitan/models/llama3/__init__.py``
    (``_LINEAR_INIT``, ``_depth_init``, ``_output_linear_init``,
    ``models/common/param_init.py``: ``depth_scaled_std``) keeps the same
    values with ``lm_head`` for ``output`` and a fused ``wqkv``. Where that
    version ties ``lm_head`` to the token embedding (its 1B and 3B configs),
    the shared weight gets the output's init; here a tied weight is
    initialized under its first name, ``tok_embeddings.weight``.

    Examples
    --------
    >>> import winit
    >>> params = {f"layers.{i}.attention.wo.weight":
    ...           winit.ParamSpec((64, 64), "dense", layout="torch") for i in range(4)}
    >>> [round(r.std / 0.02, 4) for r in winit.plan(params, "torchtitan_llama3", 0).rows]
    [0.7071, 0.5, 0.4082, 0.3536]
    """
    std_layer = "std / sqrt(2 * (layer + 1 if depth_init else depth))"
    first = ("*.wq.weight", "*.wk.weight", "*.wv.weight", "*.wqkv.weight", "*.w1.weight")
    last = ("*.wo.weight", "*.w2.weight", "*.w3.weight")
    return Recipe(
        [
            Rule("tok_embeddings.weight", "normal", optional=True),
            *[Rule(p, "truncated_normal", config=_trunc_abs("std", 2), optional=True)
              for p in first],
            *[Rule(p, "truncated_normal", config=_trunc_abs(std_layer, 2), optional=True)
              for p in last],
            *[Rule(p, "truncated_normal", optional=True,
                   config={"std": "1 / sqrt(fan_in)", "lower": -3.0, "upper": 3.0})
              for p in ("output.weight", "lm_head.weight")],
            *_norms(),
            Rule("*", "zeros", kind="bias", optional=True),
        ],
        name="torchtitan_llama3",
        dims={"std": std, "depth": depth, "depth_init": int(bool(depth_init))},
    )  # fmt: skip
