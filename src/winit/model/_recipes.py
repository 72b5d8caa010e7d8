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
_CONV_TRANSPOSE = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
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

    ===========================================  =====================================
    parameters                                   distribution
    ===========================================  =====================================
    RNN, LSTM, GRU (and cells): every weight     :math:`U(\pm 1/\sqrt{\mathrm{hidden}})`
    and bias
    MultiheadAttention: packed ``in_proj_weight``  Xavier uniform over the whole
    (or ``q/k/v_proj_weight``)                     packed matrix (each)
    MultiheadAttention: ``in_proj_bias``,          0
    ``out_proj.bias``
    MultiheadAttention: ``bias_k``, ``bias_v``     Xavier normal
    Bilinear weight and bias                       :math:`U(\pm 1/\sqrt{\mathrm{in1}})`
    ConvTranspose weight and bias                  as Linear, with PyTorch's fan-in
                                                   ``weight.size(1) * kernel``
    Linear, Conv weight                            ``kaiming_uniform_(a=sqrt(5))``:
                                                   :math:`U(\pm 1/\sqrt{\mathrm{fan\_in}})`
    Linear, Conv bias                              :math:`U(\pm 1/\sqrt{\mathrm{fan\_in}})`
    Embedding, EmbeddingBag                        :math:`N(0, 1)`, the padding row 0
    norm weight, bias                              1, 0
    ===========================================  =====================================

    Source: ``torch/nn/modules/{linear,conv,sparse,rnn,activation,normalization,
    batchnorm}.py`` in PyTorch 2.x.
    """
    leaky = {"nonlinearity": "leaky_relu", "negative_slope": math.sqrt(5)}
    from .._registry import get

    kaiming = get("kaiming_uniform").configure(**leaky)
    hidden = "1 / sqrt(hidden_size)"
    return Recipe(
        [
            Rule("*", "uniform", where={"module": _RNN}, optional=True,
                 config={"low": f"-{hidden}", "high": hidden}),
            Rule("*in_proj_weight", "xavier_uniform", where={"module": "MultiheadAttention"},
                 whole=True, optional=True),
            Rule("*_proj_weight", "xavier_uniform", where={"module": "MultiheadAttention"},
                 optional=True),
            Rule("*.bias_?", "xavier_normal", where={"module": "MultiheadAttention"},
                 optional=True),
            Rule("*", "zeros", kind="bias", where={"module": "MultiheadAttention"}, optional=True),
            Rule("*.out_proj.bias", "zeros", where={"parent": "MultiheadAttention"},
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
    ``unit_forget_bias=True``), 1; norm scales 1, shifts 0.

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
            Rule("*[f]", "ones", kind="bias", where={"module": "LSTM"}, optional=True),
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
    shifts 0.

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


@register
def transformers_default(*, std: float | None = 0.02) -> Recipe:
    """Hugging Face transformers' generic ``PreTrainedModel._init_weights``.

    Linear, Conv and Embedding weights ``N(0, std)`` (``std`` is the config's
    ``initializer_range``; the padding row 0), biases 0, LSTM weights Xavier
    uniform and biases 0, MultiheadAttention as PyTorch, norm weights 1 and
    biases 0. Plain normal: nothing is truncated.

    Source: ``transformers/modeling_utils.py`` (``PreTrainedModel._init_weights``),
    transformers 5.x.
    """
    return Recipe(_transformers_rules(), name="transformers_default", dims={"std": std})


@register
def gpt2(*, std: float | None = 0.02, depth: int | None = None) -> Recipe:
    r"""GPT-2 as Hugging Face and nanoGPT initialize it.

    Every Linear and Conv1D weight and every embedding :math:`N(0, \mathrm{std}^2)`
    (``std`` = ``initializer_range``, 0.02), the residual projections
    ``*.c_proj.weight`` (attention and MLP) :math:`N(0, (\mathrm{std}/\sqrt{2L})^2)`
    with :math:`L` = ``depth`` = ``n_layer``, biases 0, LayerNorms 1 and 0. Plain
    normal (no truncation). The tied ``lm_head`` is the token embedding.

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
        dims={"std": std, "depth": depth},
    )  # fmt: skip


@register
def bert(*, std: float | None = 0.02) -> Recipe:
    """BERT as Hugging Face initializes it: transformers' generic rules (Linear and
    embedding weights ``N(0, 0.02)``, biases 0, LayerNorm 1 and 0) and the
    prediction head's own bias (``*.predictions.bias``) 0.

    Google's original TensorFlow BERT used a truncated normal at 2 standard
    deviations (``truncated_normal_initializer(0.02)``); transformers' PyTorch
    BERT, reproduced here, does not truncate.

    Source: ``transformers/models/bert/modeling_bert.py``
    (``BertPreTrainedModel._init_weights``).
    """
    return Recipe(
        [Rule("*.predictions.bias", "zeros", optional=True), *_transformers_rules()],
        name="bert",
        dims={"std": std},
    )


@register
def llama(*, std: float | None = 0.02) -> Recipe:
    """Llama as Hugging Face initializes it: every Linear and the token embedding
    ``N(0, std)`` (``initializer_range``, 0.02; no depth scaling, no truncation),
    RMSNorm weights 1.

    Source: ``transformers/models/llama/modeling_llama.py`` (which keeps
    ``PreTrainedModel._init_weights``).
    """
    return Recipe(_transformers_rules(), name="llama", dims={"std": std})
