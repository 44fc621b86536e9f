"""The `[model]` table's defaults, defined once: `pipeline.config` builds its `DEFAULTS["model"]` from
`MODEL_DEFAULTS`, and the sequence classifier's defaults are its values.

Plain data, no Keras import, so that reading a config does not start a backend.
"""

from __future__ import annotations

from typing import Any

# The [model] table of an experiment config, every key with its default, in the order `config show` prints
# them. One table serves every task: each builder reads the keys it knows and ignores the others.
MODEL_DEFAULTS: dict[str, Any] = {
    "kind": "gru",  # dense (sparse features) | simplernn | lstm | gru | transformer
    "embed_dim": 64,
    "units": 64,
    "layers": 1,
    "bidirectional": False,
    "dropout": 0.2,
    "num_heads": 2,
    "ff_dim": 128,
    "pooling": "mean",  # transformer: mean or max over the tokens
    "rnn_pooling": "last",  # recurrent: the final state (last), or mean / max / max_mean / concat (last+max+mean)
    "tie_embeddings": False,  # language models and translators: the output layer reuses the token table
    "attention": "additive",  # translation (recurrent): none | additive (Bahdanau) | dot | general (Luong)
    "attention_units": 0,  # translation, additive attention: hidden size of f_att (0 = decoder units)
    "max_positions": 0,  # translation Transformer: position table size (0 = features.sequence_length)
    "head_units": 0,
    "hidden_units": 0,
    "l2": 0.0,
    # sentiment: a word-level language-model run (e.g. "runs/lm-word-lstm") whose vocabulary and encoder
    # (token table, recurrent layers or Transformer blocks) start the classifier; "" = random initialisation
    "init_from": "",
}
