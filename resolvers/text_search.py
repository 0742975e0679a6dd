"""Search that survives typos ("Rivrea" finds Rivera), ranked by closeness, with the same pages
on SQLite and PostgreSQL.

A query is up to MAX_WORDS words; a row matches when every word matches one of its fields:
- exactly: the word is a substring of the field (lowercased): closeness 100;
- or, for a word of FUZZY_FROM letters or more, closely: a token of a fuzzy field (a run of
  letters and digits of a name or an email) one edit away from the word (a letter changed,
  added or left out, or two adjacent letters swapped: optimal string alignment distance 1):
  closeness 100 x (1 - 1 / longer length).
A row's closeness is the sum over the words; rows rank by closeness, then by the caller's order,
then by id. A query whose words are all short matches exactly only: every match is equally
close, and callers page it in SQL as before.

Why not pg_trgm's similarity() or word_similarity(): at their default thresholds they miss
one-letter typos of short names (on PostgreSQL 15: similarity('rivrea', 'rivera') = 0.27 < 0.3,
word_similarity('rivrea', 'ana rivera') = 0.43 < 0.6), thresholds low enough to catch them
let in unrelated names, and their scores exist on PostgreSQL only, so the two databases would
page differently. Instead the database narrows the rows with a condition that every match
satisfies, the same SQL on both, and one Python function decides and scores. The condition of a
word of L letters is an exact match (`lower(field) LIKE '%word%'`, served by the trigram GIN
indexes on PostgreSQL) or a fuzzy field that contains
- at least max(1, D - 3) of the word's D distinct letter pairs: the edit breaks at most three
  of its L - 1 pairs (a swap), so at least L - 4 >= 1 of them survive in the token (hence
  FUZZY_FROM = 5), of which at most L - 1 - D are repeats; and
- the word's first m or last m letters, m = max(2, (L - 2) // 2): the letters before the edit
  or those after it (at least L - m - 1 >= m of them) survive.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from rapidfuzz.distance import OSA
from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, func, or_

from errors import BadInput
from resolvers.pagination import cursor_key, decode_cursor, encode_cursor

T = TypeVar("T")
SortValue = str | int | float
TextColumn = SQLColumnExpression[str | None]  # a NULL matches nothing

MAX_QUERY_LENGTH = 100
MAX_WORDS = 6
FUZZY_FROM = 5
EXACT = 100
TOKEN = re.compile(r"[^\W_]+")


def search_words(text: str | None) -> tuple[str, ...]:
    """The query's words, lowercased (at most MAX_WORDS; the rest are ignored)."""
    if not text:
        return ()
    if len(text) > MAX_QUERY_LENGTH:
        raise BadInput(f"The search text is limited to {MAX_QUERY_LENGTH} characters.")
    return tuple(text.lower().split()[:MAX_WORDS])


def is_fuzzy(words: Sequence[str]) -> bool:
    """Whether some word may match with a typo (else every match is exact, and equally close)."""
    return any(len(word) >= FUZZY_FROM for word in words)


def _like(column: TextColumn, text: str) -> ColumnElement[bool]:
    """lower(column) contains `text` (lowercase), wildcards in it taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def candidates(
    words: Sequence[str],
    exact: Sequence[TextColumn],
    fuzzy: Sequence[TextColumn] = (),
) -> ColumnElement[bool]:
    """A condition every row that `closeness` matches satisfies (see the module's docstring);
    `exact` and `fuzzy` are the columns `closeness` gets the values of, in any order."""
    conditions = []
    for word in words:
        options = [_like(column, word) for column in exact]
        if len(word) >= FUZZY_FROM:
            pairs = sorted({word[i : i + 2] for i in range(len(word) - 1)})
            needed = max(1, len(pairs) - 3)
            ends = max(2, (len(word) - 2) // 2)
            for column in fuzzy:
                present = [case((_like(column, pair), 1), else_=0) for pair in pairs]
                options.append(
                    and_(
                        or_(_like(column, word[:ends]), _like(column, word[-ends:])),
                        functools.reduce(operator.add, present) >= needed,
                    )
                )
        conditions.append(or_(*options))
    return and_(*conditions)


def closeness(words: Sequence[str], exact: Sequence[str], fuzzy: Sequence[str] = ()) -> int | None:
    """How closely a row's fields match the words (higher is closer), or None: no match."""
    lowered = [value.lower() for value in exact]
    tokens: list[str] | None = None
    total = 0
    for word in words:
        if any(word in value for value in lowered):
            total += EXACT
            continue
        if len(word) < FUZZY_FROM:
            return None
        if tokens is None:
            tokens = [token for value in fuzzy for token in TOKEN.findall(value.lower())]
        # One edit away: the longer of the two the closer (one letter of six is worse than of nine).
        close = [
            max(len(word), len(token))
            for token in tokens
            if abs(len(token) - len(word)) <= 1 and OSA.distance(word, token, score_cutoff=1) <= 1
        ]
        if not close:
            return None
        total += EXACT * (max(close) - 1) // max(close)
    return total


@dataclass(frozen=True)
class Ranked(Generic[T]):
    """A matched row with what orders it: closeness first, then `sort_value`, then `id`."""

    item: T
    closeness: int
    sort_value: SortValue
    id: int


@dataclass
class RankedPage(Generic[T]):
    entries: list[Ranked[T]]
    cursors: list[str]
    has_next_page: bool


def _encode(entry: Ranked[T]) -> str:
    return encode_cursor(json.dumps([entry.closeness, entry.sort_value, entry.id]))


def _decode(cursor: str, *, numeric: bool) -> tuple[int, SortValue, int]:
    try:
        score, sort_value, row_id = json.loads(decode_cursor(cursor))
    except (ValueError, TypeError) as error:
        raise BadInput("Not a valid cursor.") from error
    sort_types = (int, float) if numeric else (str,)
    if type(score) is not int or isinstance(sort_value, bool) or not isinstance(sort_value, sort_types):
        raise BadInput("Not a valid cursor.")
    return score, sort_value, cursor_key(row_id)


def rank_page(
    entries: Sequence[Ranked[T]], *, descending: bool, first: int, after: str | None, numeric: bool = False
) -> RankedPage[T]:
    """One page of the matches, closest first, then by sort value and id (both descending with
    `descending`), after the cursor `after` (a keyset: rows added between pages are neither
    repeated nor skipped). `numeric`: the sort values are numbers (else strings)."""
    ordered = sorted(entries, key=lambda e: (e.sort_value, e.id), reverse=descending)
    ordered.sort(key=lambda e: -e.closeness)
    if after is not None:
        score, sort_value, row_id = _decode(after, numeric=numeric)

        def is_after(e: Ranked[T]) -> bool:
            if e.closeness != score:
                return e.closeness < score
            key, mark = (e.sort_value, e.id), (sort_value, row_id)
            return key < mark if descending else key > mark

        ordered = [e for e in ordered if is_after(e)]
    page = ordered[:first]
    return RankedPage(entries=page, cursors=[_encode(e) for e in page], has_next_page=len(ordered) > first)
