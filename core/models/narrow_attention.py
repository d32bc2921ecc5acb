"""ALBERT with narrow attention heads: the one encoder shape papertools adds to transformers.

At the teacher's full width the attention block is most of a small student's parameters
(4 x width^2 per layer, whatever the number of heads), because BERT and ALBERT tie each head's
size to width / heads. This model keeps ALBERT (factorised embeddings, unshared or shared
layers) but gives its config an ``attention_head_size`` below that: queries, keys and values
have ``heads x attention_head_size`` features and the output map reads them back to the
stream, so a head costs 4 x width x attention_head_size. It is registered with transformers'
Auto classes as ``papertools-narrow-albert`` when this module is imported (``load_encoder``
does), so saved students load by ``AutoModel.from_pretrained`` in any process that imports
papertools; transformers alone does not know the model type.
"""

from __future__ import annotations

from transformers import AlbertConfig, AlbertModel, AutoConfig, AutoModel

MODEL_TYPE = "papertools-narrow-albert"


class NarrowAlbertConfig(AlbertConfig):
    model_type = MODEL_TYPE

    def __init__(self, attention_head_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.attention_head_size = attention_head_size


class NarrowAlbertModel(AlbertModel):
    """AlbertModel whose attention heads are ``config.attention_head_size`` wide."""

    config_class = NarrowAlbertConfig

    def __init__(self, config: NarrowAlbertConfig, add_pooling_layer: bool = True):
        import torch

        super().__init__(config, add_pooling_layer)
        size = config.attention_head_size
        if size:
            inner = int(config.num_attention_heads) * int(size)
            hidden = int(config.hidden_size)
            for group in self.encoder.albert_layer_groups:
                for layer in group.albert_layers:
                    att = layer.attention
                    att.attention_head_size, att.all_head_size = int(size), inner
                    att.scaling = int(size) ** -0.5
                    att.query = torch.nn.Linear(hidden, inner)
                    att.key = torch.nn.Linear(hidden, inner)
                    att.value = torch.nn.Linear(hidden, inner)
                    att.dense = torch.nn.Linear(inner, hidden)


AutoConfig.register(MODEL_TYPE, NarrowAlbertConfig, exist_ok=True)
AutoModel.register(NarrowAlbertConfig, NarrowAlbertModel, exist_ok=True)
