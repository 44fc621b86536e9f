"""A sentiment classifier whose encoder is a trained language model's (ULMFiT's transfer, Howard & Ruder 2018).

`build_lm_classifier(language_model, model_cfg, num_classes)` copies the language model's token table and its
recurrent layers (or Transformer decoder blocks and final norm) into a new many-to-one model, weights and
all, and puts ULMFiT's concat-pooling head on top: [last state, masked max, masked mean] -> dropout ->
[Dense(head_units, relu) -> dropout] -> output. The language model's projection and output layer are left
behind. `encoder_layer_depths` numbers the layer groups from the top, for per-layer learning rates and
gradual unfreezing (`models.layerwise`).
"""

from __future__ import annotations

import re

import keras
import numpy as np

from models.builders import positive_int, rate
from models.classifiers import _output_head
from models.language_models import _token_layer
from models.layers.masked_last_step import MaskedLastStep
from models.layers.masked_pooling import MaskedGlobalMaxPooling1D

_BLOCK = re.compile(r"(?:bidirectional_)?(simplernn|lstm|gru)_(\d+)|(decoder|encoder)_(\d+)")


def language_model_encoder(language_model: keras.Model) -> tuple[keras.layers.Layer, list, list]:
    """(token layer, encoder blocks in order, layers after the blocks: the Transformer's final norm)."""
    token_layer = _token_layer(language_model)
    blocks = []
    for layer in language_model.layers:
        match = _BLOCK.fullmatch(layer.name)
        if match and not layer.name.startswith(("bidirectional_", "encoder_")):
            blocks.append((int(match.group(2) or match.group(4)), layer))
    if not blocks:
        raise ValueError(f"model {language_model.name!r} has no recurrent layers or decoder blocks to copy")
    after = [layer for layer in language_model.layers if layer.name == "final_norm"]
    return token_layer, [layer for _, layer in sorted(blocks, key=lambda pair: pair[0])], after


def _copy(layer: keras.layers.Layer, name: str) -> keras.layers.Layer:
    """A new layer of the same class and config under `name` (built and given weights by the caller)."""
    return layer.__class__.from_config({**layer.get_config(), "name": name, "trainable": True})


def _set_weights(new: keras.layers.Layer, old: keras.layers.Layer) -> None:
    """Copy `old`'s weights into `new`, refusing any shape that differs."""
    old_weights, new_weights = old.get_weights(), new.get_weights()
    shapes = [w.shape for w in old_weights], [w.shape for w in new_weights]
    if shapes[0] != shapes[1]:
        raise ValueError(f"layer {new.name!r}: language-model weights {shapes[0]} do not fit {shapes[1]}")
    new.set_weights([np.asarray(w) for w in old_weights])


def build_lm_classifier(language_model: keras.Model, model_cfg: dict, num_classes: int) -> keras.Model:
    """A classifier over right-padded token ids (0 = padding) with `language_model`'s encoder.

    Args:
        language_model: a word-level model built by `models.language_models.build_language_model`.
        model_cfg: the head's keys: `dropout` (0.2; also after the token table and between recurrent
            layers) and `head_units` (0 = the pooled states go straight to the output layer).
        num_classes: 2 gives one sigmoid unit, more gives a softmax.

    Returns:
        An uncompiled `keras.Model` named "lm_<kind>_classifier" from int ids to probabilities, whose
        "embedding" and block layers hold copies of the language model's weights.
    """
    dropout = rate("dropout", model_cfg.get("dropout", 0.2))
    head_units = positive_int("head_units", model_cfg.get("head_units", 0), minimum=0)
    num_classes = positive_int("num_classes", num_classes, minimum=2)
    token_layer, blocks, after = language_model_encoder(language_model)
    recurrent = not blocks[0].name.startswith("decoder_")

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    copies = [(_copy(token_layer, "embedding"), token_layer)]
    x = copies[0][0](token_ids)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for index, block in enumerate(blocks):
        copies.append((_copy(block, block.name), block))
        x = copies[-1][0](x)
        if recurrent and index < len(blocks) - 1:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    for layer in after:
        copies.append((_copy(layer, layer.name), layer))
        x = copies[-1][0](x)
    pooled = [
        MaskedLastStep(name="last_pooling")(x),
        MaskedGlobalMaxPooling1D(name="max_pooling")(x),
        keras.layers.GlobalAveragePooling1D(name="mean_pooling")(x),  # honours the padding mask
    ]
    x = keras.layers.Concatenate(name="concat_pooling")(pooled)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    if head_units:
        x = keras.layers.Dense(head_units, activation="relu", name="head_hidden")(x)
        x = keras.layers.Dropout(dropout, name="head_hidden_dropout")(x)
    outputs = _output_head(x, num_classes)
    kind = "transformer" if not recurrent else _BLOCK.fullmatch(blocks[0].name).group(1)
    model = keras.Model(token_ids, outputs, name=f"lm_{kind}_classifier")
    for new, old in copies:
        _set_weights(new, old)
    return model


def encoder_layer_depths(model: keras.Model) -> dict[str, int]:
    """Each encoder layer's group, counted from the top: the head is group 0 (every layer not named here),
    the last block group 1 (with a Transformer's final norm), ..., the first block group n and the token
    table ("embedding") group n + 1. Works for the LM-initialised classifier and the plain ones."""
    blocks = []
    for layer in model.layers:
        match = _BLOCK.fullmatch(layer.name)
        if match:
            blocks.append((int(match.group(2) or match.group(4)), layer.name))
    count = len(blocks)
    depths = {name: count - index for index, name in sorted(blocks)}
    names = {layer.name for layer in model.layers}
    if "final_norm" in names:
        depths["final_norm"] = 1
    if "embedding" in names:
        depths["embedding"] = count + 1
    return depths
