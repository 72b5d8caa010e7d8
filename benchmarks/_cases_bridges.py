"""The whole-model cases through the PyTorch bridge: ``winit.torch.init_`` on real
models against the code that initializes them today.

One case per model, each with rows

* ``winit`` (in place): ``winit.torch.init_(model, recipe, rng=0)`` on a built
  model, with the model's own recipe (``gpt2``, ``bert``, ``llama``;
  ``torch_default`` for the ResNet);
* ``transformers`` (in place): ``model.apply(model._init_weights)``, what
  transformers runs after building a model; for the ResNet, ``torch``: every
  module's own ``reset_parameters()``, what PyTorch's constructors run;
* ``winit fresh``: the model built on the meta device (no memory, no init),
  ``to_empty(device='cpu')`` and ``init_``: a model from nothing;
* ``transformers fresh`` / ``torch fresh``: the plain constructor (which
  allocates and initializes every parameter).

So "peer ÷ winit" reads as winit's speed-up: in place for the init alone, fresh
for the whole build. The models are Hugging Face's GPT-2 small, BERT-base and a
Llama configuration of about 134M parameters built from configs (nothing is
downloaded), and a ResNet-50 written out here (torchvision is not usable with
the CPU build of torch this project installs). The quick run has a 2-layer
GPT-2 only. Without torch or transformers the cases are skipped with a note.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import _peers
from _cases import Call, Case, Impl


def _resnet50(torch: Any) -> Any:
    """ResNet-50 (He et al. 2016, bottleneck blocks 3-4-6-3, torchvision's layout)."""
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, width: int, stride: int) -> None:
            super().__init__()
            cout = 4 * width
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)
            self.downsample = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else None
            )

    class ResNet50(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            cin, layers = 64, []
            for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                stage = []
                for b in range(blocks):
                    stage.append(Bottleneck(cin, width, stride if b == 0 else 1))
                    cin = 4 * width
                layers.append(nn.Sequential(*stage))
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.fc = nn.Linear(2048, 1000)

    return ResNet50


def _transformers_model(name: str, quick: bool) -> tuple[Any, Any, str]:
    """(model class, config, recipe) of a Hugging Face model."""
    import transformers as tf

    if name == "gpt2-small":
        mini = tf.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=1000)
        config = mini if quick else tf.GPT2Config()
        return tf.GPT2LMHeadModel, config, "gpt2"
    if name == "bert-base":
        return tf.BertForMaskedLM, tf.BertConfig(), "bert"
    config = tf.LlamaConfig(
        hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
        num_attention_heads=12, num_key_value_heads=12, vocab_size=32000,
    )  # fmt: skip
    return tf.LlamaForCausalLM, config, "llama"


def _reset_all(model: Any) -> None:
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()


def model_case(name: str, threads: int, quick: bool) -> Case:
    torch = _peers.torch(threads)
    import winit.torch as wt

    if name == "resnet50":
        build, config, recipe, peer = _resnet50(torch), None, "torch_default", "torch"
    else:
        cls, config, recipe = _transformers_model(name, quick)
        build, peer = (lambda: cls(config)), "transformers"
    with torch.device("meta"):  # the size, without building it yet
        count = sum(p.numel() for p in build().parameters())
    models: dict[str, Any] = {}

    def built() -> Any:  # one model per case, built when its rows are first timed
        if "model" not in models:
            models["model"] = build()
        return models["model"]

    def winit_make(_: bool) -> tuple[Call, None]:
        model = built()
        return (lambda: wt.init_(model, recipe, rng=0, threads=threads)), None

    def winit_fresh(_: bool) -> tuple[Call, None]:
        def call() -> Any:
            with torch.device("meta"):
                model = build()
            model.to_empty(device="cpu")
            return wt.init_(model, recipe, rng=0, threads=threads)

        return call, None

    def peer_make(_: bool) -> tuple[Call, None]:
        model = built()
        if peer == "torch":
            return (lambda: _reset_all(model)), None
        return (lambda: model.apply(model._init_weights)), None

    def peer_fresh(_: bool) -> tuple[Call, None]:
        return build, None

    own = (
        "every module's reset_parameters()"
        if peer == "torch"
        else "model.apply(model._init_weights)"
    )
    impls = [
        Impl("winit", "winit", f"winit.torch.init_(model, {recipe!r}, rng=0)", "in place",
             winit_make, memory=False),
        Impl("winit fresh", "winit", "meta-device build, to_empty('cpu'), init_", "fresh",
             winit_fresh, memory=False),
        Impl(peer, peer, own, "in place", peer_make, memory=False),
        Impl(f"{peer} fresh", peer, "the plain constructor", "fresh", peer_fresh, memory=False),
    ]  # fmt: skip
    return Case(
        id=f"bridge/{'gpt2-mini' if quick else name}/float32",
        group="bridge",
        init=recipe,
        dtype="float32",
        elements=count,
        itemsize=4,
        repeats=3 if quick else 5,
        impls=impls,
        notes=[f"{count:,} parameters; winit with the {recipe!r} recipe on {threads} thread(s)"],
    )


def cases(threads: int, quick: bool) -> list[Case]:
    """The whole-model bridge cases of a run (none without torch and transformers)."""
    if importlib.util.find_spec("torch") is None:
        return []
    names = ["resnet50"]
    if importlib.util.find_spec("transformers") is not None:
        names = ["gpt2-small", "bert-base", "llama-134m", "resnet50"]
    if quick:
        names = ["gpt2-small"] if "gpt2-small" in names else []
    return [model_case(name, threads, quick) for name in names]
