"""Chinese identifiers: 身份证号码 (GB 11643) and 统一社会信用代码 (GB 32100).

Check-digit validation of one value and masking for display. The rules over a whole chunk, vectorised and
with stable codes, are in :mod:`lianban.domain.rules.identity`. (Synthetic people: simulators/people.py.)
"""

from __future__ import annotations

import re
from datetime import date
from operator import mul

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")

#: GB 32100 alphabet (no I, O, S, V, Z)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

_PHONE_SHAPE = re.compile(r"^1[3-9]\d{9}$")
#: an ID number or a mobile number anywhere in free text (full-width digits too: ``\d`` is Unicode; and a
#: full-width check letter, typed in full-width mode)
_ID_RUN = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXxＸｘ])(?![0-9A-Za-z])")
#: one space or hyphen (half- or full-width) between digits, as people write long numbers: 159-6219-4150
_GAPS = " \u3000－-"  # the hyphen last: a range in a character class otherwise
_GAP = f"[{_GAPS}]?"
#: an ID number of 18 or 15 (the first generation's) digits in free text, its digits grouped or not, next to
#: letters or not (``ID341621…``): taken for one only when its birth date is a date (:func:`_id_masked`), so that a
#: digest's run of digits is not
_ID_LIKE = re.compile(rf"(?<!\d)\d(?:{_GAP}\d){{14}}(?:{_GAP}\d{_GAP}\d{_GAP}[\dXxＸｘ])?(?!\d)")
#: a mobile number standing alone, ungrouped (what a 办件编号 may not be: :func:`personal_shaped`)
_PLAIN_PHONE = re.compile(r"(?<!\d)[1１][3-9３-９]\d{9}(?!\d)")
#: the shortest run of digits either may be: eleven, grouped or not
_LONG_RUN = re.compile(rf"\d(?:{_GAP}\d){{10}}")
#: a mobile number, with the country's code or not (+86, 0086, 86), its digits grouped 3-4-4 or not
#: (its first digit matched before the look behind it, so that the search skips to each 1 at C speed)
_AFTER = "|".join(f"(?<={cc}{gap}[1１])" for cc in ("86", "８６") for gap in ("", f"[{_GAPS}]"))  # +86, 0086, 86
_PHONE_RUN = re.compile(rf"([1１])(?:(?<!\d[1１])|{_AFTER})([3-9３-９]\d){_GAP}(\d{{4}}){_GAP}(\d{{4}})(?!\d)")

#: Bozhou's county-level area codes (亳州市).
BOZHOU_AREAS = {"341602": "谯城区", "341621": "涡阳县", "341622": "蒙城县", "341623": "利辛县"}


def id_check_digit(first17: str) -> str:
    """GB 11643 check character for the first 17 digits."""
    if len(first17) != len(_ID_WEIGHTS):
        raise ValueError(f"an ID number's check character is worked out from 17 digits, not {len(first17)}")
    return _ID_CHECK[sum(map(mul, map(int, first17), _ID_WEIGHTS)) % 11]  # in C: half the generator's time


def id_problem(value: str) -> str | None:
    """Why `value` is not a valid 18-character ID number, or None when it is."""
    if not _ID_SHAPE.match(value or ""):
        return "身份证号码应为18位（末位可为X）"
    if id_check_digit(value[:17]) != value[17]:
        return "身份证号码校验位错误"
    try:
        id_birth_date(value)
    except ValueError:
        return "身份证号码中的出生日期无效"
    return None


def id_birth_date(value: str) -> date:
    """Birth date embedded in an ID number (digits 7-14)."""
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_is_male(value: str) -> bool:
    """Sex digit (17th): odd for men."""
    return int(value[16]) % 2 == 1


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character for the first 17 characters."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    """Why `value` is not a valid 统一社会信用代码, or None when it is."""
    if not _USCC_SHAPE.match(value or ""):
        return "统一社会信用代码应为18位（数字或大写字母，不含I、O、S、V、Z）"
    if uscc_check_char(value[:17]) != value[17]:
        return "统一社会信用代码校验位错误"
    return None


def phone_problem(value: str) -> str | None:
    """Why `value` is not a mainland mobile number, or None when it is."""
    return None if _PHONE_SHAPE.match(value or "") else "联系电话应为以1开头的11位手机号码"


def mask_id(value: str) -> str:
    """341622********0012: area code and last four kept."""
    return value[:6] + "*" * max(len(value) - 10, 0) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value: str) -> str:
    """138****5678."""
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else "*" * len(value)


def mask_name(value: str) -> str:
    """张*, 欧阳** : the surname's first character kept."""
    return value[:1] + "*" * (len(value) - 1) if value else ""


def redact_text(text: str) -> str:
    """`text` with every ID-number-shaped and mobile-number-shaped run masked (``341622********0012``,
    ``138****5678``): for log lines and any free text a person reads. Also an ID number next to letters, grouped
    by spaces or hyphens, or of 15 digits, when its birth date is a date; and a mobile number after +86 or grouped
    3-4-4."""
    if _LONG_RUN.search(text) is None:  # most text: no run of digits long enough for either (once, not three times)
        return text
    return _PHONE_RUN.sub(r"\1\2****\4", _ids_masked(_ID_RUN.sub(r"\1********\2", text)))


def personal_shaped(code: str) -> bool:
    """Whether `code` (a 办件编号) is or holds an ID number standing alone or a mobile number: it would travel and
    be kept in the clear. Not :func:`redact_text`'s wider shapes: a 办件编号 may well hold an area code and a date
    side by side (``BZ`` + area code + YYYYMMDD + serial), as an ID number does."""
    return _ID_RUN.search(code) is not None or _PLAIN_PHONE.search(code) is not None


def _ids_masked(text: str) -> str:
    """Every :data:`_ID_LIKE` run in `text` whose birth date is a date, masked (:func:`_id_masked`). A run that is
    no ID is passed over a character at a time, not whole: an ID it swallowed the start of (a number written just
    before it, a space between) is then still found."""
    parts, done, at = [], 0, 0
    while (found := _ID_LIKE.search(text, at)) is not None:
        masked = _id_masked(found.group())
        if masked is None:
            at = found.start() + 1
            continue
        parts += [text[done:found.start()], masked]
        done = at = found.end()
    return "".join(parts) + text[done:] if parts else text


def _id_masked(run: str) -> str | None:
    """An :data:`_ID_LIKE` run masked, its gaps dropped: area code and the last four kept (the last three of 15
    digits, whose fourth last is the day of birth's); None when the digits where the birth date stands are no date
    (YYYYMMDD from 1800, or YYMMDD in 15 digits) or the area code cannot be one."""
    kept = "".join(c for c in run if c not in _GAPS)
    digits = "".join(str(int(c)) for c in kept[:14])  # int() reads any script's digit, full-width among them
    year, month, day = (digits[6:10], digits[10:12], digits[12:14]) if len(kept) == 18 else \
        ("19" + digits[6:8], digits[8:10], digits[10:12])
    born = year[:2] in ("18", "19", "20") and 1 <= int(month) <= 12 and 1 <= int(day) <= 31
    if not born or digits[0] not in "12345678":
        return None
    return mask_id(kept) if len(kept) == 18 else kept[:6] + "******" + kept[-3:]


_CODE_SHAPED = re.compile(r"[0-9A-Za-z]{1,4}")


def code_shaped(text: str) -> bool:
    """Whether `text` is shaped like a code of the source's tables: one to four ASCII letters or digits."""
    return _CODE_SHAPED.fullmatch(text) is not None


def quoted_code(text: str) -> str:
    """An unknown code as a reason may quote it: itself when :func:`code_shaped`, else a placeholder, so that a
    phone number, an ID number or a name given where a code belongs is never repeated."""
    return repr(text) if code_shaped(text) else "（非编码内容）"


def code_shown(text: str) -> str:
    """A code read from a column that holds none (an item code, a 办件编号) as it may be shown: each character
    outside ASCII as ``*`` (the applicant's name typed there: codes are ASCII), then :func:`redact_text`."""
    return redact_text("".join(c if c.isascii() else "*" for c in text))


SAID_MAX = 500  # the most of a peer's free text (a refusal's reason) kept or logged: medical.xsd's Reason
CUT = "…（已截断）"  # ends a text :func:`said` cut


def said(text: str) -> str:
    """A peer's free text (a department's, 皖事通办's, a gateway's) as the ledger keeps it and the log tells it:
    at most :data:`SAID_MAX` characters, its start and :data:`CUT` when longer (an error body's message may be
    of any length, and a batch's every row keeps it), masked before it is cut (an ID number cut across is no
    longer ID-shaped, and would keep its area code and birth date)."""
    text = redact_text(text)
    return text if len(text) <= SAID_MAX else f"{text[:SAID_MAX - len(CUT)]}{CUT}"
