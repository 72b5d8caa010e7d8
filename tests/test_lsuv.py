"""LSUV (Mishkin & Matas 2015) over numpy networks and real PyTorch models, and
winit.torch.diagnose against an independent autograd computation."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import winit
from winit import _lsuv

# -- the framework-neutral core and the numpy networks -------------------------------------


def _forward_variances(x, weights, activation):
    """Each layer's pre-activation variance, recomputed here in float64."""
    functions = {"relu": lambda h: np.maximum(h, 0), "tanh": np.tanh}
    out, signal = [], x.astype(np.float64)
    for w in weights:
        h = signal @ w.astype(np.float64)
        out.append(h.var())
        signal = functions[activation](h)
    return np.array(out)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("convention", ["caffe", "pytorch"])
def test_numpy_lsuv_brings_every_layer_within_tol(activation, convention):
    x = np.random.default_rng(1).standard_normal((512, 128))
    weights, report = winit.propagation.lsuv(
        (128, 256, 128, 128, 64), activation, x=x, rng=0, convention=convention
    )
    variances = _forward_variances(x, weights, activation)
    if convention == "caffe":
        assert np.all(np.abs(variances - 1) <= 0.02)
    else:
        assert np.all(np.abs(np.sqrt(variances) - 1) <= 0.1)
    assert report.converged
    assert [r.path for r in report.rows] == ["1", "2", "3", "4"]
    np.testing.assert_allclose([r.variance for r in report.rows], variances, rtol=1e-5)


def test_numpy_lsuv_starts_orthonormal_and_only_scales():
    weights, report = winit.propagation.lsuv((64, 32, 32, 16), "relu", rng=0, dtype=np.float64)
    for w, row in zip(weights, report.rows, strict=True):
        q = w / row.scale  # (in, out) with out <= in: orthonormal columns
        np.testing.assert_allclose(q.T @ q, np.eye(w.shape[1]), atol=1e-10)


def test_numpy_lsuv_sees_the_input_propagate_sees():
    weights, _ = winit.propagation.lsuv(128, "tanh", depth=6, rng=3, batch=400)
    run = winit.propagation.propagate(
        [lambda shape, rng, w=w: w for w in weights], 128, "tanh", depth=6, rng=3, batch=400
    )
    np.testing.assert_allclose(run.pre_std**2, 1, atol=0.02)


def test_numpy_lsuv_agrees_with_monte_carlo_on_fresh_batches():
    """The variances LSUV fitted on its batch are those of fresh inputs, within
    6 of the standard errors measured over 20 fresh batches."""
    weights, report = winit.propagation.lsuv(256, "tanh", depth=8, rng=0, batch=1000)
    fitted = np.array([row.variance for row in report.rows])
    fixed = [lambda shape, rng, w=w: w for w in weights]

    def measured(seed):
        run = winit.propagation.propagate(fixed, 256, "tanh", depth=8, rng=seed, batch=1000)
        return run.pre_std**2

    fresh = np.array([measured(100 + s) for s in range(20)])
    mean, spread = fresh.mean(axis=0), fresh.std(axis=0, ddof=1)
    assert np.all(np.abs(fitted - mean) <= 6 * spread * math.sqrt(1 + 1 / 20))
    assert np.all(np.abs(mean - 1) <= 0.02 + 6 * spread / math.sqrt(20))


def test_numpy_lsuv_zero_input_warns_and_reports():
    with pytest.warns(_lsuv.LSUVWarning, match="zero variance"):
        weights, report = winit.propagation.lsuv(16, "relu", depth=3, x=np.zeros((8, 16)), rng=0)
    assert not report.converged
    assert {r.note for r in report.rows} == {"zero variance"}
    assert all(np.all(np.isfinite(w)) for w in weights)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"convention": "keras"}, ValueError),
        ({"convention": 1}, TypeError),
        ({"tol": 0}, ValueError),
        ({"tol": -0.1}, ValueError),
        ({"max_iter": -1}, ValueError),
        ({"target": 0}, ValueError),
        ({"center": "yes"}, TypeError),
    ],
)
def test_settings_are_validated(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        _lsuv.resolve(**kwargs)


def test_conventions_have_their_published_settings():
    caffe, pytorch = _lsuv.resolve("caffe"), _lsuv.resolve("pytorch")
    assert (caffe.on, caffe.tol, caffe.max_iter, caffe.center) == ("variance", 0.02, 20, False)
    assert (pytorch.on, pytorch.tol, pytorch.max_iter, pytorch.center) == ("std", 0.1, 10, True)
    assert _lsuv.resolve().convention == "caffe"


class _Toy:
    """A one-layer 'network' whose output variance is a + b s² for weight scale s:
    LSUV needs several rescalings to converge."""

    def __init__(self, a, b):
        self.a, self.b, self.s, self.calls = a, b, 1.0, 0

    def paths(self):
        return ["toy"]

    def moments(self, i):
        self.calls += 1
        return 0.0, self.a + self.b * self.s**2

    def scale(self, i, factor):
        self.s *= factor

    def bias_mean(self, i):
        return None

    def shift(self, i, delta):
        raise AssertionError


@pytest.mark.parametrize("convention", ["caffe", "pytorch"])
def test_iterations_are_capped_and_tol_respected(convention):
    settings = _lsuv.resolve(convention)
    report = _lsuv.run(_Toy(0.5, 4.0), settings)
    (row,) = report.rows
    assert row.converged and 1 < row.iterations <= settings.max_iter
    if convention == "caffe":
        assert abs(row.variance - 1) <= 0.02
    else:
        assert abs(math.sqrt(row.variance) - 1) <= 0.1
    capped = _lsuv.resolve(convention, max_iter=1)
    with pytest.warns(_lsuv.LSUVWarning, match="max_iter"):
        report = _lsuv.run(_Toy(0.5, 4.0), capped)
    assert report.rows[0].iterations == 1 and not report.rows[0].converged
    # a variance that cannot reach the target (0.99 + tiny) runs to the cap exactly
    toy = _Toy(1.5, 1.0)
    with pytest.warns(_lsuv.LSUVWarning):
        report = _lsuv.run(toy, settings)
    assert report.rows[0].iterations == settings.max_iter
    assert toy.calls == settings.max_iter + 1


def test_report_table_names_every_layer():
    report = _lsuv.run(_Toy(0.0, 4.0), _lsuv.resolve())
    text = str(report)
    assert "caffe convention" in text and "toy" in text and "converged" in text
    assert report["toy"].scale == pytest.approx(0.5)
    with pytest.raises(KeyError, match="nope"):
        report["nope"]


# -- PyTorch ----------------------------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch")


def _layer_outputs(model, batch, types):
    """Every module of ``types``'s output in a fresh forward pass, by path (hooks
    written here, independent of winit)."""
    torch = _torch()
    found = {}

    def hook(path):
        def record(module, args, out):
            if path not in found:
                found[path] = out.detach().double()

        return record

    handles = [
        m.register_forward_hook(hook(p)) for p, m in model.named_modules() if isinstance(m, types)
    ]
    with torch.no_grad():
        model(*batch) if isinstance(batch, tuple) else model(batch)
    for h in handles:
        h.remove()
    return found


def _mlp(torch, seed=0):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(64, 128), torch.nn.Tanh()]
    for _ in range(5):
        layers += [torch.nn.Linear(128, 128), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(128, 10))


def _deep_conv(torch, depth=12, seed=0):
    torch.manual_seed(seed)
    layers = [torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU()]
    for _ in range(depth - 1):
        layers += [torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(16 * 8 * 8, 10))


def _batch(torch, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(7))


def _check_within(outputs, convention, report=None):
    assert outputs
    for path, out in outputs.items():
        variance = float(out.var(unbiased=False))
        if convention == "caffe":
            assert abs(variance - 1) <= 0.02, path
        else:
            assert abs(math.sqrt(variance) - 1) <= 0.1, path
        if report is not None and report.center and report[path].iterations:
            assert abs(float(out.mean())) < 1e-5, path  # centered through the bias


@pytest.mark.parametrize("convention", ["caffe", "pytorch"])
@pytest.mark.parametrize("net", ["mlp", "conv"])
def test_torch_lsuv_every_layer_within_tol(net, convention):
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    model = _mlp(torch) if net == "mlp" else _deep_conv(torch)
    x = _batch(torch, 256, 64) if net == "mlp" else _batch(torch, 64, 3, 8, 8)
    report = winit_torch.lsuv_(model, x, convention=convention, rng=0)
    types = (torch.nn.Linear, torch.nn.Conv2d)
    outputs = _layer_outputs(model, x, types)
    assert [r.path for r in report.rows] == list(outputs)
    assert report.converged
    _check_within(outputs, convention, report)
    for row in report.rows:
        assert row.iterations <= (20 if convention == "caffe" else 10)
        assert row.variance == pytest.approx(float(outputs[row.path].var(unbiased=False)), rel=1e-6)


def test_torch_lsuv_pre_init_is_winits_orthonormal_plan():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    model, x = _deep_conv(torch, depth=4), _batch(torch, 32, 3, 8, 8)
    reference = copy.deepcopy(model)
    # a tolerance every variance meets: no rescaling, the pre-initialization alone
    report = winit_torch.lsuv_(model, x, rng=5, tol=1e9)
    assert all(r.iterations == 0 for r in report.rows)
    recipe = winit.Recipe(
        [
            winit.Rule("*", "orthogonal", kind=("dense", "conv")),
            winit.Rule("*", "zeros", kind="bias"),
        ],
        name="test",
    )
    winit_torch.init_(reference, recipe, rng=5)
    for (name, got), (_, want) in zip(
        model.state_dict().items(), reference.state_dict().items(), strict=True
    ):
        assert torch.equal(got, want), name
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            w = module.weight.detach().double().reshape(module.weight.shape[0], -1)
            gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
            torch.testing.assert_close(
                gram, torch.eye(gram.shape[0], dtype=gram.dtype), atol=1e-5, rtol=0
            )
            assert not module.bias.detach().any()


def test_torch_lsuv_scales_the_orthonormal_weights():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    model, x = _mlp(torch), _batch(torch, 256, 64)
    report = winit_torch.lsuv_(model, x, rng=0)
    for row in report.rows:
        w = model.get_submodule(row.path).weight.detach().double() / row.scale
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        torch.testing.assert_close(
            gram, torch.eye(gram.shape[0], dtype=gram.dtype), atol=1e-5, rtol=0
        )


def _two_inputs(torch):
    """A model of two inputs with Conv1d, Conv3d, ConvTranspose2d, a grouped Conv2d
    and a Linear, called in an order unlike their definition's."""

    class TwoInputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(8 * 16 + 6 * 4 * 4 * 4, 3)
            self.grouped = torch.nn.Conv2d(8, 8, 3, padding=1, groups=2)
            self.up = torch.nn.ConvTranspose2d(6, 5, 3)
            self.seq = torch.nn.Conv1d(4, 8, 3, padding=1)
            self.vol = torch.nn.Conv3d(2, 6, 3, padding=1)

        def forward(self, x, y):
            u = torch.relu(self.seq(x))
            v = torch.tanh(self.vol(y))
            w = self.up(v.mean(2))
            z = self.grouped(u.reshape(u.shape[0], 8, 4, 4))
            return self.head(torch.cat([z.flatten(1), v.flatten(1)], 1)) + w.mean()

    torch.manual_seed(0)
    return TwoInputs()


def test_torch_lsuv_tuple_batch_and_every_conv_type():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    gen = torch.Generator().manual_seed(1)
    batch = (torch.randn(64, 4, 16, generator=gen), torch.randn(64, 2, 4, 4, 4, generator=gen))
    types = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    types += (torch.nn.ConvTranspose2d,)
    model = _two_inputs(torch)
    pre = winit_torch.lsuv_(copy.deepcopy(model), batch, rng=0, tol=1e9)  # pre-init only
    report = winit_torch.lsuv_(model, batch, rng=0)
    assert [r.path for r in report.rows] == ["seq", "vol", "up", "grouped", "head"]
    assert report.converged
    outputs = _layer_outputs(model, batch, types)
    assert set(outputs) == {r.path for r in report.rows}
    _check_within(outputs, "caffe")
    for row, row0 in zip(report.rows, pre.rows, strict=True):
        assert row0.iterations == 0
        w = model.get_submodule(row.path).weight.detach().double() / row.scale
        if row.path == "up":  # ConvTranspose: (in, out, k, k), one row per output unit
            w = w.transpose(0, 1)
        w = w.reshape(w.shape[0], -1)
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        torch.testing.assert_close(
            gram, torch.eye(gram.shape[0], dtype=gram.dtype), atol=1e-5, rtol=0
        )


def test_torch_lsuv_is_reproducible_from_rng():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    x = _batch(torch, 64, 64)
    a, b, c = _mlp(torch, seed=1), _mlp(torch, seed=2), _mlp(torch, seed=1)
    winit_torch.lsuv_(a, x, rng=11)
    winit_torch.lsuv_(b, x, rng=11)
    winit_torch.lsuv_(c, x, rng=12)
    for (name, pa), pb, pc in zip(
        a.named_parameters(), b.parameters(), c.parameters(), strict=True
    ):
        assert torch.equal(pa, pb), name
        if name.endswith("weight"):
            assert not torch.equal(pa, pc), name


def test_torch_lsuv_restores_modes_and_turns_dropout_off():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(32, 64), torch.nn.Dropout(0.5), torch.nn.ReLU(), torch.nn.Linear(64, 8)
    )
    model.train()
    model[2].eval()
    before = {name: m.training for name, m in model.named_modules()}
    x = _batch(torch, 128, 32)
    report = winit_torch.lsuv_(model, x, rng=0)
    assert {name: m.training for name, m in model.named_modules()} == before
    model.eval()
    outputs = _layer_outputs(model, x, torch.nn.Linear)
    _check_within(outputs, "caffe")  # measured in eval mode, as LSUV ran
    assert report.converged


def test_torch_lsuv_zero_output_warns_clearly():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    model = _mlp(torch)
    with pytest.warns(winit_torch.LSUVWarning, match=r"'0' \(zero variance"):
        report = winit_torch.lsuv_(model, torch.zeros(16, 64), rng=0)
    assert not report.converged
    assert all(r.note == "zero variance" and r.iterations == 0 for r in report.rows)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_torch_lsuv_only_and_options():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    model, x = _mlp(torch), _batch(torch, 128, 64)
    last = copy.deepcopy(model[-1].state_dict())
    report = winit_torch.lsuv_(model, x, rng=0, only=["0", "2"])
    assert [r.path for r in report.rows] == ["0", "2"]
    assert all(torch.equal(v, model[-1].state_dict()[k]) for k, v in last.items())
    report = winit_torch.lsuv_(
        model, x, rng=0, only=lambda path, m: m.out_features == 10, target=4.0
    )
    assert [r.path for r in report.rows] == ["12"]
    assert abs(report.rows[0].variance - 4) <= 0.02
    with pytest.raises(ValueError, match="selects no layer"):
        winit_torch.lsuv_(model, x, only="nope.*")
    with pytest.raises(TypeError, match="batch must be"):
        winit_torch.lsuv_(model, 3.0)
    with pytest.raises(ValueError, match="convention='keras'"):
        winit_torch.lsuv_(model, x, convention="keras")
    with pytest.raises(TypeError, match="orthonormal"):
        winit_torch.lsuv_(model, x, orthonormal=1)


def test_torch_lsuv_without_orthonormal_rescales_the_given_weights():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    model, x = _mlp(torch), _batch(torch, 256, 64)
    start = [m.weight.detach().clone() for m in model if isinstance(m, torch.nn.Linear)]
    report = winit_torch.lsuv_(model, x, orthonormal=False)
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    for w0, m, row in zip(start, layers, report.rows, strict=True):
        torch.testing.assert_close(m.weight.detach(), w0 * row.scale, rtol=1e-5, atol=0)
    _check_within(_layer_outputs(model, x, torch.nn.Linear), "caffe")


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning:transformers")
def test_torch_lsuv_on_gpt2():
    torch = _torch()
    transformers = pytest.importorskip("transformers")
    winit_torch = pytest.importorskip("winit.torch")
    from transformers.pytorch_utils import Conv1D

    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=100, n_positions=32)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    tokens = torch.randint(0, 100, (16, 24), generator=torch.Generator().manual_seed(0))
    wte = model.transformer.wte.weight.detach().clone()
    model.train()
    report = winit_torch.lsuv_(model, tokens, rng=0)
    assert model.training and all(m.training for m in model.modules())
    # the head is tied to the token embeddings: not rescaled, embeddings untouched
    assert "lm_head" not in [r.path for r in report.rows]
    assert torch.equal(model.transformer.wte.weight, wte)
    model.eval()
    outputs = _layer_outputs(model, tokens, Conv1D)
    assert [r.path for r in report.rows] == list(outputs)
    assert len(outputs) == 8
    _check_within(outputs, "caffe")


# -- diagnose -----------------------------------------------------------------------------------


def _independent_stats(model, x, loss_of, torch):
    """Every Linear's output and its gradient, through retain_grad on a manual
    forward of a Sequential."""
    outs, h = [], x
    for m in model:
        h = m(h)
        if isinstance(m, torch.nn.Linear | torch.nn.Conv2d):
            h.retain_grad()
            outs.append(h)
    loss_of(h).backward()
    return outs


def test_diagnose_equals_independent_autograd():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    model, x = _mlp(torch).double(), _batch(torch, 128, 64).double()
    d = winit_torch.diagnose(model, x, rng=3)
    assert all(p.grad is None for p in model.parameters())
    g = torch.from_numpy(np.random.default_rng(3).standard_normal((128, 10)))
    outs = _independent_stats(copy.deepcopy(model), x, lambda y: (y * g).sum(), torch)
    assert d.paths == tuple(str(i) for i in range(0, 13, 2))
    assert d.shapes == tuple(tuple(o.shape) for o in outs)
    for i, o in enumerate(outs):
        y, grad = o.detach(), o.grad
        np.testing.assert_allclose(d.mean[i], float(y.mean()), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(d.std[i], float(y.std(unbiased=False)), rtol=1e-12)
        np.testing.assert_allclose(d.second_moment[i], float((y * y).mean()), rtol=1e-12)
        np.testing.assert_allclose(d.grad_mean[i], float(grad.mean()), rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(d.grad_std[i], float(grad.std(unbiased=False)), rtol=1e-12)
    assert d.loss == pytest.approx(float((outs[-1].detach() * g).sum()), rel=1e-12)


def test_diagnose_with_a_loss_and_an_inplace_relu():
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    torch.manual_seed(0)
    inplace = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(inplace=True),
        torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(inplace=True),
        torch.nn.Flatten(), torch.nn.Linear(8 * 36, 4),
    ).double()  # fmt: skip
    plain = copy.deepcopy(inplace)
    for i in (1, 3):
        plain[i] = torch.nn.ReLU()
    x = _batch(torch, 16, 3, 6, 6).double()
    target = torch.arange(16) % 4

    def loss(y):
        return torch.nn.functional.cross_entropy(y, target)

    d = winit_torch.diagnose(inplace, x, loss)
    outs = _independent_stats(plain, x, loss, torch)
    assert float(d.mean[0]) < 0 or float(outs[0].detach().min()) < 0  # pre-ReLU values
    for i, o in enumerate(outs):
        np.testing.assert_allclose(d.std[i], float(o.detach().std(unbiased=False)), rtol=1e-12)
        np.testing.assert_allclose(d.grad_std[i], float(o.grad.std(unbiased=False)), rtol=1e-10)
    with pytest.raises(ValueError, match="scalar"):
        winit_torch.diagnose(inplace, x, lambda y: y)


def test_diagnose_table_plot_and_filters(tmp_path):
    torch = _torch()
    winit_torch = pytest.importorskip("winit.torch")
    model, x = _mlp(torch), _batch(torch, 64, 64)
    d = winit_torch.diagnose(model, x, only="*", rng=0, label="mlp")
    # every module, the model too: last, as its output is the last one computed
    assert d.paths[-1] == "" and d.modules[-1] == "Sequential"
    assert "Tanh" in d.modules
    text = str(d)
    assert text.startswith("mlp · ") and "grad std" in text
    with pytest.raises(ValueError, match="selects no module"):
        winit_torch.diagnose(model, x, only="nope")
    pytest.importorskip("matplotlib")
    before = winit_torch.diagnose(model, x, rng=0, label="before")
    winit_torch.lsuv_(model, x, rng=0)
    after = winit_torch.diagnose(model, x, rng=0, label="after")
    figure = winit_torch.plot([before, after], tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 0
    assert len(figure.axes[0].lines) == 2
