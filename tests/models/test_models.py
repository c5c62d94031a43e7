"""Registry-parametrized smoke tests for every model, plus parameter-count oracles."""

import dataclasses
import json

import pytest
import torch

from digitrec.models import create_model, list_models, model_info


def _param_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module", params=list_models())
def name(request) -> str:
    return request.param


@pytest.mark.parametrize("batch", [1, 3])
def test_forward_gives_finite_logits(name, batch):
    torch.manual_seed(0)
    model = create_model(name).eval()
    with torch.no_grad():
        logits = model(torch.rand(batch, 1, 28, 28))
    assert logits.shape == (batch, 10)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_backward_reaches_every_parameter(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    logits = model(torch.rand(4, 1, 28, 28))  # batch > 1 so batch norm can train
    torch.nn.functional.cross_entropy(logits, torch.arange(4)).backward()
    assert _param_count(model) > 0
    for param_name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), param_name


def test_kwargs_round_trip_through_json(name):
    model = create_model(name, num_classes=7)
    kwargs = json.loads(json.dumps(dataclasses.asdict(model.config)))
    rebuilt = create_model(name, **kwargs)
    assert rebuilt.config == model.config
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes
    assert rebuilt(torch.rand(2, 1, 28, 28)).shape == (2, 7)


def test_model_info_names_description_and_source(name):
    info = model_info(name)
    assert info.name == name and info.description and info.source
    assert "\n" not in str(info)


def test_other_input_sizes_and_channels_compute_their_flatten_width(name):
    model = create_model(name, in_channels=3, image_size=32).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'foo'; choose from: ") as error:
        create_model("foo")
    assert all(valid in str(error.value) for valid in list_models())
    with pytest.raises(ValueError, match="choose from"):
        model_info("foo")


def test_registry_holds_the_seed_families():
    assert set(list_models()) >= {"mlp", "lenet", "kaggle-cnn", "cnn-baseline", "cnn-baseline-bn",
                                  "cnn-deep", "reference"}


@pytest.mark.parametrize(
    ("model_name", "expected"),
    [
        ("reference", 1_199_882),  # pytorch/examples mnist Net
        ("mlp", 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10),  # 109,386
        ("lenet", 20 * 25 + 20 + 50 * 20 * 25 + 50 + 800 * 500 + 500 + 500 * 10 + 10),  # 431,080
        ("cnn-baseline", 32 * 9 + 32 + 32 * 13 * 13 * 100 + 100 + 100 * 10 + 10),  # 542,230
    ],
)
def test_parameter_counts_match_the_sources(model_name, expected):
    assert _param_count(create_model(model_name)) == expected


def test_reference_matches_the_example_layer_names():
    keys = set(create_model("reference").state_dict())
    assert keys == {f"{layer}.{kind}" for layer in ("conv1", "conv2", "fc1", "fc2") for kind in ("weight", "bias")}


def test_kaggle_cnn_follows_the_seed_widths():
    model = create_model("kaggle-cnn")
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 32, 64, 64]
    assert [c.padding for c in convs] == [(1, 1), (0, 0)] * 3
    assert model.features(torch.zeros(1, 1, 28, 28)).shape == (1, 64, 1, 1)  # 28->26->13->11->5->3->1


def test_batch_norm_variant_normalises_after_the_activation():
    layers = [type(m).__name__ for m in create_model("cnn-baseline-bn").modules()]
    assert "Conv2d,ReLU,BatchNorm2d" in ",".join(layers)
    assert "Linear,ReLU,BatchNorm1d" in ",".join(layers)


def test_unexpected_kwarg_is_rejected():
    with pytest.raises(TypeError):
        create_model("mlp", widht=3)


def test_best_cnn_valid_padding_follows_deottes_map_sizes():
    sides = {"same": [28, 28, 14, 14, 14, 7, 4], "valid": [26, 24, 12, 10, 8, 4, 1]}  # Deotte's: 28->26->24->12->10->8->4->1
    for padding, expected in sides.items():
        model = create_model("best-cnn", padding=padding)
        convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
        seen = []
        hooks = [conv.register_forward_hook(lambda _m, _i, out: seen.append(out.shape[-1])) for conv in convs]
        assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
        assert seen == expected and [c.out_channels for c in convs] == [32, 32, 32, 64, 64, 64, 128]
        for hook in hooks:
            hook.remove()
    with pytest.raises(ValueError, match="padding='full': choose 'same' or 'valid'"):
        create_model("best-cnn", padding="full")


def test_mask_dropout_is_the_same_function_as_nn_dropout():
    from digitrec.models.best import MaskDropout

    torch.manual_seed(0)
    x = torch.rand(64, 32, 14, 14) + 0.5  # no zeros of its own
    for p in (0.4, 0.1):
        ours, theirs = MaskDropout(p), torch.nn.Dropout(p)
        dropped = ours(x)
        kept = dropped != 0
        assert abs(kept.float().mean().item() - (1 - p)) < 0.01  # 401,408 units: +-0.003 is 4 sigma
        assert torch.allclose(dropped[kept], x[kept] / (1 - p))  # survivors scaled as nn.Dropout's are
        assert abs(dropped.mean().item() - theirs(x).mean().item()) < 0.01  # same expectation, ~1.0
        assert torch.equal(ours.eval()(x), x)  # evaluation is the identity
    x = x.clone().requires_grad_()
    dropped = MaskDropout(0.4)(x)
    dropped.sum().backward()
    assert torch.equal(x.grad != 0, dropped != 0)  # gradient flows through the kept units only
    assert torch.allclose(x.grad[dropped != 0], torch.tensor(1 / 0.6))
    assert torch.equal(MaskDropout(0.0)(x), x)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        MaskDropout(1.0)


def test_mask_dropout_keeps_bf16_activations_bf16():
    from digitrec.models.best import MaskDropout

    x = torch.ones(8, 100, dtype=torch.bfloat16)
    assert MaskDropout(0.4)(x).dtype == torch.bfloat16
