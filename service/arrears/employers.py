"""Who an employer is: the normalised name that groups reports, and the credit code.

Reports are matched to an employer's open case by the unified social credit
code when they carry one, else by the normalised name (docs/contract.md §11):
the name with full-width characters folded to half-width (NFKC), Latin letters
folded to one case, every blank and bracket dropped (their content kept) and
the suffix 有限公司/有限责任公司 removed.  So "扬州 宏达建筑（集团）有限公司",
"扬州宏达建筑(集团)有限责任公司" and "扬州宏达建筑集团" are one employer.
"""
from __future__ import annotations

import unicodedata

from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

BRACKETS = frozenset("()[]{}<>（）【】〔〕［］｛｝〈〉《》「」『』")
SUFFIXES = ("有限责任公司", "有限公司")  # the longer first: 有限责任公司 ends in neither otherwise


def employer_key(name: str) -> str:
    """The normalised employer name; empty when nothing but blanks, brackets and a suffix was given."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    text = "".join(ch for ch in text if not ch.isspace() and ch not in BRACKETS)
    for suffix in SUFFIXES:
        if text.endswith(suffix):
            text = text[:-len(suffix)]
            break
    return text


def normalise_credit_code(value: str) -> str:
    """Upper case, without blanks (as printed on a business licence, often spaced)."""
    return "".join(unicodedata.normalize("NFKC", value or "").split()).upper()


def credit_code_problem(value: str) -> str | None:
    """None if ``value`` is a valid 18-character unified social credit code (GB 32100,
    with its check character), else what is wrong with it, in Chinese."""
    try:
        uscc.validate(value)
    except stdnum_errors.InvalidLength:
        return "统一社会信用代码应为 18 位"
    except stdnum_errors.InvalidChecksum:
        return "统一社会信用代码校验位不正确，请核对营业执照"
    except stdnum_errors.ValidationError:
        return "统一社会信用代码格式不正确（应为 18 位数字或大写字母）"
    return None
