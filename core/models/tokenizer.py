"""Byte-level BPE tokenizers trained on local data (no code tokenizer installs offline).

Training is deterministic for the same texts in the same order (checked by a test); the
tokenizer says which data it was trained on in ``papertools_tokenizer.json`` beside it, so a
figure counted with it can name it.
"""

from __future__ import annotations

from typing import Iterable

EOS = "<|endoftext|>"


def train_bpe(texts: Iterable[str], vocab_size: int = 2048, added_tokens: tuple = (),
              special_tokens: tuple = (EOS,)):
    """A ``PreTrainedTokenizerFast`` (GPT-2 style byte-level BPE) trained on ``texts``.

    ``added_tokens`` become single tokens that are not special (as ``<|diff|>`` in LintSeq:
    ``tokenizer.add_tokens``); the first special token is EOS, BOS, UNK and PAD.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    core.train_from_iterator(texts, trainer=trainer)
    eos = special_tokens[0]
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=eos, bos_token=eos,
                                        unk_token=eos, pad_token=eos)
    if added_tokens:
        tokenizer.add_tokens(list(added_tokens))
    return tokenizer
