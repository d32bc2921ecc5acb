"""A lexical stand-in for a cross-encoder, for `--scorer examples.ceindex.lexical:score`.

Not a neural CE: each query word found in the item adds 1/sqrt(its length in characters)
(short common words count less... no: longer words count more, as rarer ones tend to be),
normalised by the square root of the query's word count. It is instant, which keeps the
help examples fast; the demo pipeline uses the MaxSim scorer over MiniLM instead.
"""

import math
import re

_WORD = re.compile(r"[a-z0-9_]+")


def _words(text):
    return _WORD.findall(text.lower())


def score(queries, items):
    out = []
    for q, i in zip(queries, items):
        qw, iw = _words(q), set(_words(i))
        hit = sum(math.sqrt(len(w)) for w in qw if w in iw)
        out.append(hit / math.sqrt(max(1, len(qw))))
    return out
