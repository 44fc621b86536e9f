"""Text classifiers (functional API): RNN and Transformer models over token ids, dense over sparse vectors.

`build_classifier(model_cfg, input_kind=...)` picks the builder from `model_cfg["kind"]`. The caller
(pipeline) validates config keys; here every key has a default and unknown keys are ignored.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from models.builders import RECURRENT_LAYERS, positive_int, rate, token_embedding, transformer_sizes
from models.defaults import MODEL_DEFAULTS
from models.layers.masked_last_step import MaskedLastStep
from models.layers.masked_pooling import MaskedGlobalMaxPooling1D
from models.layers.transformer_encoder import TransformerEncoder

SEQUENCE_KINDS = ("simplernn", "lstm", "gru", "transformer")
SPARSE_KINDS = ("dense",)
INPUT_KINDS = ("sequence", "sparse")
POOLINGS = ("mean", "max")
RNN_POOLINGS = ("last", "mean", "max", "max_mean", "concat")

# The [model] table's defaults (models.defaults), but an LSTM when no kind is given; the builder reads the
# keys listed in its docstring and ignores the others.
SEQUENCE_DEFAULTS: dict[str, Any] = {**MODEL_DEFAULTS, "kind": "lstm"}
SPARSE_DEFAULTS: dict[str, Any] = {"kind": "dense", "hidden_units": 0, "dropout": 0.0, "l2": 0.0}


def _output_head(x, num_classes: int):
    """Sigmoid unit for two classes, softmax otherwise; float32 so mixed precision keeps exact outputs."""
    if num_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="output")(x)
    return keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="output")(x)


def _pool_states(states, pooling: str):
    """Masked mean, max or [max, mean] over the time steps of (batch, steps, features) states; "concat" is
    ULMFiT's [last state, max, mean] (as `models.lm_classifier` pools)."""
    if pooling == "concat":
        pooled = [
            MaskedLastStep(name="last_pooling")(states),
            MaskedGlobalMaxPooling1D(name="max_pooling")(states),
            keras.layers.GlobalAveragePooling1D(name="mean_pooling")(states),
        ]
        return keras.layers.Concatenate(name="concat_pooling")(pooled)
    pooled = []
    if pooling in ("max", "max_mean"):
        pooled.append(MaskedGlobalMaxPooling1D(name="max_pooling")(states))
    if pooling in ("mean", "max_mean"):
        pooled.append(keras.layers.GlobalAveragePooling1D(name="mean_pooling")(states))  # honours the mask
    if len(pooled) == 1:
        return pooled[0]
    return keras.layers.Concatenate(name="max_mean_pooling")(pooled)


def build_sequence_classifier(
    model_cfg: dict,
    vocabulary_size: int,
    sequence_length: int,
    num_classes: int,
    embedding_matrix: np.ndarray | None = None,
    trainable_embeddings: bool = True,
) -> keras.Model:
    """Many-to-one classifier over right-padded token ids (0 = padding).

    Recurrent kinds: Embedding(mask_zero) -> dropout -> `layers` recurrent layers (bidirectional
    concatenates both directions) -> the last layer's final state (`rnn_pooling="last"`), or the masked
    mean, max or both concatenated ("max_mean") over all its states, or [last, max, mean] ("concat") -> dropout -> [Dense(head_units, relu)]
    -> output. The recurrent layers keep Keras's defaults (tanh, sigmoid gates, no recurrent dropout, no
    unroll, bias) so that LSTM/GRU are cuDNN-eligible on a GPU. Transformer: PositionalEmbedding ->
    dropout -> `layers` TransformerEncoder blocks -> masked mean or max pooling -> dropout -> head.

    Args:
        model_cfg: `kind` (one of SEQUENCE_KINDS, default "lstm"), `embed_dim` (64), `units` (64),
            `layers` (1), `bidirectional` (False), `dropout` (0.2), `num_heads` (2), `ff_dim` (128),
            `pooling` ("mean" or "max", Transformer only), `rnn_pooling` ("last", "mean", "max",
            "max_mean" or "concat", recurrent kinds only), `head_units` (0 = no hidden layer).
        vocabulary_size: number of token ids, padding included.
        sequence_length: length of every input row.
        num_classes: 2 gives one sigmoid unit, more gives a softmax.
        embedding_matrix: optional (vocabulary_size, embed_dim) initial token table (e.g. GloVe).
        trainable_embeddings: whether the token table trains; only used with an `embedding_matrix`.

    Returns:
        An uncompiled `keras.Model` from int ids (batch, sequence_length) to probabilities.

    Example:
    >>> model = build_sequence_classifier({"kind": "gru", "bidirectional": True}, 1000, 40, 2)
    >>> model.name
    'bigru_classifier'
    """
    cfg = {**SEQUENCE_DEFAULTS, **model_cfg}
    kind = cfg["kind"]
    if kind not in SEQUENCE_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(SEQUENCE_KINDS)}")
    vocabulary_size = positive_int("vocabulary_size", vocabulary_size)
    sequence_length = positive_int("sequence_length", sequence_length)
    num_classes = positive_int("num_classes", num_classes, minimum=2)
    embed_dim = positive_int("embed_dim", cfg["embed_dim"])
    num_layers = positive_int("layers", cfg["layers"])
    head_units = positive_int("head_units", cfg["head_units"], minimum=0)
    dropout = rate("dropout", cfg["dropout"])
    bidirectional = bool(cfg["bidirectional"])
    if embedding_matrix is not None:
        embedding_matrix = np.asarray(embedding_matrix)
        if embedding_matrix.shape != (vocabulary_size, embed_dim):
            raise ValueError(
                f"embedding_matrix has shape {embedding_matrix.shape}, expected "
                f"(vocabulary_size, embed_dim) = {(vocabulary_size, embed_dim)}"
            )

    # A frozen random table is useless, so the flag only matters with a given matrix.
    train_token_table = bool(trainable_embeddings) or embedding_matrix is None
    # Any length up to sequence_length: batches trimmed to their longest row skip columns of padding.
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    if kind == "transformer":
        num_heads, ff_dim = transformer_sizes(cfg, embed_dim)
        pooling = cfg["pooling"]
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; known: {', '.join(POOLINGS)}")
    else:
        units = positive_int("units", cfg["units"])
        rnn_pooling = cfg["rnn_pooling"]
        if rnn_pooling not in RNN_POOLINGS:
            raise ValueError(f"unknown rnn_pooling {rnn_pooling!r}; known: {', '.join(RNN_POOLINGS)}")
    embedding = token_embedding(
        kind, vocabulary_size, sequence_length, embed_dim, name="embedding", trainable=train_token_table
    )
    x = embedding(token_ids)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    if kind == "transformer":
        for index in range(num_layers):
            x = TransformerEncoder(
                intermediate_dim=ff_dim, num_heads=num_heads, dropout=dropout, name=f"encoder_{index}"
            )(x)
        if pooling == "mean":
            x = keras.layers.GlobalAveragePooling1D(name="mean_pooling")(x)  # honours the padding mask
        else:
            x = MaskedGlobalMaxPooling1D(name="max_pooling")(x)
        name = "transformer_classifier"
    else:
        recurrent_class = RECURRENT_LAYERS[kind]
        for index in range(num_layers):
            final_state_only = index == num_layers - 1 and rnn_pooling == "last"
            recurrent = recurrent_class(units, return_sequences=not final_state_only, name=f"{kind}_{index}")
            if bidirectional:
                recurrent = keras.layers.Bidirectional(
                    recurrent, merge_mode="concat", name=f"bidirectional_{kind}_{index}"
                )
            x = recurrent(x)
        if rnn_pooling != "last":
            x = _pool_states(x, rnn_pooling)
        name = f"{'bi' if bidirectional else ''}{kind}_classifier"

    if embedding_matrix is not None:
        # set_weights rather than a Constant initializer: the latter would write the whole matrix into
        # the model's JSON config.
        token_table = getattr(embedding, "token_embedding", embedding)  # a PositionalEmbedding's token table
        token_table.set_weights([embedding_matrix.astype(token_table.embeddings.dtype)])

    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    if head_units:
        x = keras.layers.Dense(head_units, activation="relu", name="head_hidden")(x)
    outputs = _output_head(x, num_classes)
    return keras.Model(token_ids, outputs, name=name)


def build_sparse_classifier(model_cfg: dict, input_dim: int, num_classes: int) -> keras.Model:
    """Dense classifier over sparse vectors (bag of words, TF-IDF): logistic regression by default.

    Feed it `scipy.sparse` matrices directly: `model.fit(csr_matrix, labels, batch_size=...)` and
    `model.predict(csr_matrix)` work; Keras slices the matrix and converts each batch to a backend
    sparse tensor.

    Args:
        model_cfg: `kind` ("dense"), `hidden_units` (0 = no hidden layer), `dropout` (0.0, applied to
            the hidden layer's output; unused without one, as the sparse input itself is not dropped),
            `l2` (0.0, L2 penalty on the first kernel).
        input_dim: width of the sparse vectors.
        num_classes: 2 gives one sigmoid unit, more gives a softmax.

    Returns:
        An uncompiled `keras.Model` from (batch, input_dim) sparse floats to probabilities.

    Example:
    >>> model = build_sparse_classifier({"hidden_units": 32}, input_dim=5000, num_classes=2)
    >>> model.predict(scipy.sparse.random(4, 5000, format="csr", dtype="float32")).shape
    (4, 1)
    """
    cfg = {**SPARSE_DEFAULTS, **model_cfg}
    kind = cfg["kind"]
    if kind not in SPARSE_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(SPARSE_KINDS)}")
    input_dim = positive_int("input_dim", input_dim)
    num_classes = positive_int("num_classes", num_classes, minimum=2)
    hidden_units = positive_int("hidden_units", cfg["hidden_units"], minimum=0)
    dropout = rate("dropout", cfg["dropout"])
    l2 = cfg["l2"]
    if not isinstance(l2, (int, float)) or isinstance(l2, bool) or l2 < 0:
        raise ValueError(f"`l2` must be a number >= 0, got {l2!r}")
    regularizer = keras.regularizers.L2(float(l2)) if l2 > 0 else None

    features = keras.Input(shape=(input_dim,), sparse=True, name="features")
    if hidden_units:
        x = keras.layers.Dense(
            hidden_units, activation="relu", kernel_regularizer=regularizer, name="hidden"
        )(features)
        x = keras.layers.Dropout(dropout, name="hidden_dropout")(x)
        outputs = _output_head(x, num_classes)
    else:
        units, activation = (1, "sigmoid") if num_classes == 2 else (num_classes, "softmax")
        outputs = keras.layers.Dense(
            units, activation=activation, kernel_regularizer=regularizer, dtype="float32", name="output"
        )(features)
    return keras.Model(features, outputs, name=f"{kind}_classifier")


def build_classifier(model_cfg: dict, *, input_kind: str, **sizes: Any) -> keras.Model:
    """Build the classifier named by `model_cfg["kind"]` for the given kind of input.

    Args:
        model_cfg: the `[model]` table; `kind` defaults to "lstm" for sequences and "dense" for sparse.
        input_kind: "sequence" (token ids) or "sparse" (vectors).
        **sizes: the builder's size arguments: `vocabulary_size`, `sequence_length`, `num_classes`
            (and optionally `embedding_matrix`, `trainable_embeddings`) for sequences; `input_dim`,
            `num_classes` for sparse input.

    Example:
    >>> build_classifier({"kind": "dense"}, input_kind="sparse", input_dim=100, num_classes=2).name
    'dense_classifier'
    """
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"unknown input kind {input_kind!r}; known: {', '.join(INPUT_KINDS)}")
    defaults = SEQUENCE_DEFAULTS if input_kind == "sequence" else SPARSE_DEFAULTS
    kind = model_cfg.get("kind", defaults["kind"])
    fitting = SEQUENCE_KINDS if input_kind == "sequence" else SPARSE_KINDS
    if kind not in fitting:
        other = " (it needs the other kind of input)" if kind in SEQUENCE_KINDS + SPARSE_KINDS else ""
        raise ValueError(
            f"unknown model kind {kind!r} for {input_kind} features{other}; known: {', '.join(fitting)}"
        )
    if input_kind == "sparse":
        return build_sparse_classifier(model_cfg, **sizes)
    return build_sequence_classifier(model_cfg, **sizes)
