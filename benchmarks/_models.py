"""The parameter lists of two real networks, built by hand (no torch or transformers
needed): GPT-2 small and ResNet-50, each with the initialization its reference
implementation applies.

A :class:`Param` names its tensor, its shape in the reference layout and one of
the rules below; :mod:`_cases` turns each rule into a winit, torch, jax and numpy
call on tensors of the same shapes.

Rules:

``normal``       N(0, value²)  (GPT-2: std 0.02; residual projections 0.02/sqrt(2 n_layer))
``zeros``        biases, layer- and batch-norm shifts
``ones``         layer- and batch-norm scales
``conv``         He normal, fan_out, torch layout (out, in, kh, kw): torchvision's
                 ``kaiming_normal_(w, mode='fan_out', nonlinearity='relu')``
``linear``       torch's ``nn.Linear`` default weight: ``kaiming_uniform_(w, a=sqrt(5))``,
                 which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); torch layout (out, in)
``bias``         U(-value, value), value = 1/sqrt(fan_in): torch's ``nn.Linear`` bias
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GPT2_SMALL_PARAMETERS = 124_439_808
RESNET50_PARAMETERS = 25_557_032


@dataclass(frozen=True)
class Param:
    name: str
    shape: tuple[int, ...]
    rule: str
    value: float = 0.0

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def gpt2(
    n_layer: int = 12, n_embd: int = 768, vocab: int = 50257, n_ctx: int = 1024
) -> list[Param]:
    """GPT-2's parameters as in Hugging Face's ``GPT2Model`` (Conv1D weights are
    (in, out)); ``lm_head`` is tied to ``wte``. The defaults are GPT-2 small."""
    std = 0.02
    residual = std / math.sqrt(2 * n_layer)
    params = [
        Param("wte", (vocab, n_embd), "normal", std),
        Param("wpe", (n_ctx, n_embd), "normal", std),
    ]
    for i in range(n_layer):
        h = f"h.{i}."
        params += [
            Param(h + "ln_1.weight", (n_embd,), "ones"),
            Param(h + "ln_1.bias", (n_embd,), "zeros"),
            Param(h + "attn.c_attn.weight", (n_embd, 3 * n_embd), "normal", std),
            Param(h + "attn.c_attn.bias", (3 * n_embd,), "zeros"),
            Param(h + "attn.c_proj.weight", (n_embd, n_embd), "normal", residual),
            Param(h + "attn.c_proj.bias", (n_embd,), "zeros"),
            Param(h + "ln_2.weight", (n_embd,), "ones"),
            Param(h + "ln_2.bias", (n_embd,), "zeros"),
            Param(h + "mlp.c_fc.weight", (n_embd, 4 * n_embd), "normal", std),
            Param(h + "mlp.c_fc.bias", (4 * n_embd,), "zeros"),
            Param(h + "mlp.c_proj.weight", (4 * n_embd, n_embd), "normal", residual),
            Param(h + "mlp.c_proj.bias", (n_embd,), "zeros"),
        ]
    params += [Param("ln_f.weight", (n_embd,), "ones"), Param("ln_f.bias", (n_embd,), "zeros")]
    return params


def _batch_norm(name: str, channels: int) -> list[Param]:
    return [
        Param(name + ".weight", (channels,), "ones"),
        Param(name + ".bias", (channels,), "zeros"),
    ]


def resnet(
    blocks: tuple[int, ...] = (3, 4, 6, 3), classes: int = 1000, width: int = 64
) -> list[Param]:
    """A bottleneck ResNet's parameters as in torchvision (BN running statistics are
    buffers, not parameters, and are left out). The defaults are ResNet-50."""
    params = [Param("conv1.weight", (width, 3, 7, 7), "conv"), *_batch_norm("bn1", width)]
    inplanes = width
    for stage, count in enumerate(blocks):
        planes = width * 2**stage
        for b in range(count):
            p = f"layer{stage + 1}.{b}."
            params += [
                Param(p + "conv1.weight", (planes, inplanes, 1, 1), "conv"),
                *_batch_norm(p + "bn1", planes),
                Param(p + "conv2.weight", (planes, planes, 3, 3), "conv"),
                *_batch_norm(p + "bn2", planes),
                Param(p + "conv3.weight", (4 * planes, planes, 1, 1), "conv"),
                *_batch_norm(p + "bn3", 4 * planes),
            ]
            if b == 0:
                params += [
                    Param(p + "downsample.0.weight", (4 * planes, inplanes, 1, 1), "conv"),
                    *_batch_norm(p + "downsample.1", 4 * planes),
                ]
            inplanes = 4 * planes
    bound = 1.0 / math.sqrt(inplanes)
    params += [
        Param("fc.weight", (classes, inplanes), "linear", bound),
        Param("fc.bias", (classes,), "bias", bound),
    ]
    return params


def parameter_count(params: list[Param]) -> int:
    return sum(p.size for p in params)


if __name__ == "__main__":
    assert parameter_count(gpt2()) == GPT2_SMALL_PARAMETERS, parameter_count(gpt2())
    assert parameter_count(resnet()) == RESNET50_PARAMETERS, parameter_count(resnet())
    print("GPT-2 small:", parameter_count(gpt2()), "ResNet-50:", parameter_count(resnet()))
