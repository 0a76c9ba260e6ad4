"""Reference Keras models: the MLP and the CNN of the origin article, correct this time.

The origin article (a Keras tutorial on continual learning, sections 3.2 and 4.1) builds an MLP
whose Dense head sits on an un-flattened ``(28, 28, 1)`` input (a per-pixel output) and a CNN
declared for ``(32, 32, 3)`` CIFAR images but fed MNIST, trained with a sparse loss on one-hot
labels. The builders here fix all three and work for any input shape and class count.

The CNN uses ``padding="same"`` in both convolutions, so an 8x8 digits image goes 8 -> 4 -> 2
through the two poolings instead of vanishing (a "valid" 3x3 conv on 8x8 leaves 6x6 -> 3x3 ->
1x1 -> 0). Padding keeps the architecture of the article and costs nothing at 28x28; upsampling
would quadruple the compute for no information gain.

Users register their own builders by import path (``mypkg.models:build``); a builder takes
``(input_shape, num_classes)`` and returns a Keras model, compiled or not.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mlchecks.errors import ModelError

if TYPE_CHECKING:
    import keras

Builder = Callable[[tuple[int, ...], int], "keras.Model"]


def mlp(input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Input -> Flatten -> Dense(128, relu) -> Dense(num_classes, softmax)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Flatten(name="flatten")(inputs)
    x = layers.Dense(128, activation="relu", name="hidden")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="mlp")


def cnn(input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Conv2D(32, 3x3) -> MaxPool -> Conv2D(64, 3x3) -> MaxPool -> Flatten -> Dense(64) -> softmax.

    Inputs of shape ``(H, W)`` get a channel axis; ``padding="same"`` keeps small images alive.
    """
    import keras
    from keras import layers

    if len(input_shape) not in (2, 3):
        msg = (
            f"the reference CNN needs image inputs (H, W) or (H, W, C); received "
            f"input_shape={input_shape}; use the 'mlp' builder for flat features"
        )
        raise ModelError(msg)
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    if len(input_shape) == 2:
        x = layers.Reshape((*input_shape, 1), name="add_channel")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same", name="conv1")(x)
    x = layers.MaxPooling2D((2, 2), name="pool1")(x)
    x = layers.Conv2D(64, (3, 3), activation="relu", padding="same", name="conv2")(x)
    x = layers.MaxPooling2D((2, 2), name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="hidden")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name="cnn")


REFERENCE: dict[str, Builder] = {"mlp": mlp, "cnn": cnn}


def get(identifier: str | Mapping[str, Any] | Builder) -> Builder:
    """Resolve a model builder.

    Args:
        identifier: a zoo name (``"mlp"``, ``"cnn"``), an import path ``"pkg.mod:function"``,
            a dict ``{"builder": ...}``, or a callable ``(input_shape, num_classes) -> Model``.

    Raises:
        ModelError: anything else, or an import path that does not resolve to a callable.

    Example:
        >>> get("mlp").__name__
        'mlp'
    """
    if callable(identifier):
        return identifier
    if isinstance(identifier, Mapping):
        if "builder" not in identifier:
            msg = f"a model dict needs a 'builder' key; received {dict(identifier)!r}"
            raise ModelError(msg)
        return get(identifier["builder"])
    if not isinstance(identifier, str):
        msg = (
            f"a model builder must be a zoo name {sorted(REFERENCE)}, 'module:function' or a "
            f"callable; received {identifier!r} of type {type(identifier).__name__}"
        )
        raise ModelError(msg)
    if identifier in REFERENCE:
        return REFERENCE[identifier]
    if ":" not in identifier:
        msg = (
            f"unknown model builder {identifier!r}; expected one of {sorted(REFERENCE)} or an "
            "import path such as 'mypkg.models:build'"
        )
        raise ModelError(msg)
    module_name, _, attr = identifier.partition(":")
    module = _import_builder_module(identifier, module_name)
    builder = getattr(module, attr, None)
    if not callable(builder):
        msg = f"model builder {identifier!r}: {module_name} has no callable {attr!r}"
        raise ModelError(msg)
    return builder  # type: ignore[no-any-return]


def _import_builder_module(identifier: str, module_name: str) -> Any:
    """Import the module of a ``module:function`` builder, from the project root (put on the
    import path when the settings were loaded: :mod:`mlchecks.config.project`) or the installed
    packages.

    Raises:
        ModelError: the module is neither there (naming the root searched and the fix), it
            imports something missing, or importing it raised.
    """
    from mlchecks.config.project import project_roots

    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module_name
        if missing != module_name and not module_name.startswith(f"{missing}."):
            msg = (
                f"model builder {identifier!r}: importing {module_name!r} failed: it imports "
                f"{missing!r}, which is not installed ({exc}); install it in this environment"
            )
            raise ModelError(msg) from None
        roots = project_roots()
        file = module_name.replace(".", "/")
        if roots:
            where = f"the project root {roots[-1]}"
            fix = f"put {file}.py (or the package {file}/) in {roots[-1]}, the config's folder"
        else:
            where = "a project root (no pyproject.toml with [tool.mlchecks] or mlchecks.toml found)"
            fix = "run mlchecks in your project (`mlchecks init` writes its config there)"
        msg = (
            f"model builder {identifier!r}: cannot import {module_name!r}: it is neither in "
            f"{where} nor an installed package; {fix}, or install it (pip install -e .)"
        )
        raise ModelError(msg) from None
    except Exception as exc:
        msg = (
            f"model builder {identifier!r}: importing {module_name!r} raised "
            f"{type(exc).__name__}: {exc}; fix that module"
        )
        raise ModelError(msg) from None
