"""Counting words the way word processors do."""

from __future__ import annotations

import re

__all__ = ["count_words"]


def count_words(text: str) -> int:
    """Words as word processors count them: each CJK character (ideograph, kana) is one,
    otherwise a whitespace-separated token with at least one letter or digit."""
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text) if cjk else text
    return cjk + sum(1 for token in rest.split() if _ALNUM.search(token))


# a word: each CJK ideograph or kana on its own (as word processors count them), else a run
# of non-space characters with at least one letter or digit in it
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_ALNUM = re.compile(r"[^\W_]")
