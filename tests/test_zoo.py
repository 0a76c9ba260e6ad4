"""Reference models: the article's MLP and CNN, built right, for any input shape."""

from __future__ import annotations

import pytest

from mlchecks.errors import ModelError
from mlchecks.model import zoo


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3), (8, 8)])
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_builders_fit_any_image_shape(name, shape):
    model = zoo.get(name)(shape, 7)
    assert model.input_shape == (None, *shape)
    assert model.output_shape == (None, 7)
    assert model.layers[-1].get_config()["activation"] == "softmax"


def test_cnn_layers_follow_the_article():
    model = zoo.cnn((8, 8, 1), 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D",
        "Flatten", "Dense", "Dense",
    ]  # fmt: skip
    assert [layer.filters for layer in model.layers if hasattr(layer, "filters")] == [32, 64]
    # padding="same" keeps 8x8 digits alive: 8 -> 4 -> 2
    assert model.get_layer("pool2").output.shape[1:3] == (2, 2)


def test_mlp_flattens_before_dense():
    model = zoo.mlp((28, 28, 1), 10)
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer", "Flatten", "Dense", "Dense",
    ]  # fmt: skip
    assert model.get_layer("hidden").units == 128


def test_cnn_refuses_flat_features():
    with pytest.raises(ModelError, match="image inputs"):
        zoo.cnn((64,), 10)


def test_get_by_import_path():
    assert zoo.get("mlchecks.model.zoo:mlp") is zoo.mlp
    assert zoo.get({"builder": "cnn"}) is zoo.cnn
    assert zoo.get(zoo.mlp) is zoo.mlp


@pytest.mark.parametrize(
    ("identifier", "fragment"),
    [
        ("resnet", "unknown model builder 'resnet'"),
        ("no_such_pkg.models:build", "cannot import 'no_such_pkg.models'"),
        ("mlchecks.model.zoo:nothing", "no callable 'nothing'"),
        (42, "of type int"),
        ({"name": "x"}, "'builder' key"),
    ],
)
def test_get_rejects_what_it_cannot_resolve(identifier, fragment):
    with pytest.raises(ModelError) as info:
        zoo.get(identifier)
    assert fragment in str(info.value)
