"""From one item's intent to SKUs: an order, a review for staff with the likely readings, or
nothing. Every doubt becomes a review: a wrong order costs more than a question to staff."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, product
from typing import NamedTuple

from parsers.compiled import CompiledLineup, Keyword
from parsers.fuzzy import match_name
from parsers.grouping import Group
from parsers.intent import MOST_PER_COMMENT, Intent, Part, Unsure, read_intent
from parsers.result import Action, OrderItem, Status
from parsers.text import Comment, first_few
from parsers.tokens import CHATTER, KEYWORD, UNKNOWN_CODE, VALUE, Token

MOST_CANDIDATES = 12
Candidates = tuple[tuple[OrderItem, ...], ...]


class Reading(NamedTuple):
    status: Status
    items: tuple[OrderItem, ...] = ()
    reason: str = ""
    candidates: Candidates = ()
    explicit: bool = True  # False: a bare keyword, an order only if the comment is nothing else
    fuzzy: bool = False
    subject: str = ""  # the product as staff know it (its keyword)


NOTHING = Reading("none")


class Context(NamedTuple):
    comment: Comment
    lineup: CompiledLineup
    on_screen: int | None  # keyword index of the product on screen
    current: str | None  # the product on screen as given, known to the lineup or not


def read_group(group: Group, context: Context, alone: bool) -> Reading:
    if group.anchor is None:
        return _read_on_screen(group, context)
    anchor = group.tokens[group.anchor]
    if anchor.kind is KEYWORD:
        return _read_keyword(group, anchor.number, context)
    if anchor.kind is UNKNOWN_CODE:
        return _read_unknown_code(group, anchor.text, context)
    return _read_unknown_name(group, anchor, context, alone)


def combine(readings: Sequence[Reading], chatty: bool) -> Reading:
    """One comment's reading from its items'. `chatty`: the comment holds words that are not
    orders, so a bare keyword in it (`A2 B3 好可愛`) is talk about the product, not an order."""
    fuzzy = any(reading.fuzzy for reading in readings)
    live = [reading for reading in readings if reading.status != "none"]
    if any(reading.explicit for reading in live):
        live = [reading if reading.explicit else _needs_quantity(reading) for reading in live]
    elif chatty:
        live = []
    if not live:
        return Reading("none", fuzzy=fuzzy)
    reviews = [reading for reading in live if reading.status == "review"]
    if reviews:
        reasons = dict.fromkeys(reading.reason for reading in reviews)
        return Reading(
            "review", reason="; ".join(reasons), candidates=_candidates(live), fuzzy=fuzzy
        )
    items = tuple(chain.from_iterable(reading.items for reading in live))
    return _without_repeats(items, fuzzy)


def _read_keyword(group: Group, keyword_index: int, context: Context) -> Reading:
    keyword = context.lineup.keywords[keyword_index]
    intent = read_intent(group, keyword.spellings, context.comment, keyword.display)
    reading = _resolve(keyword, intent, keyword.display, context)
    glued = _glued_chatter(group) if keyword.is_word and reading.status == "order" else None
    if glued is not None:
        # 青蘋果, 蘋果汁: a character typed against a product word can make it another product.
        start, end = min(glued[0].start, glued[1].start), max(glued[0].end, glued[1].end)
        typed = context.comment.quote(start, end)
        reason = f"not sure '{typed}' means {keyword.display}"
        return _review(reason, (reading.items,), keyword.display)
    return reading


def _read_unknown_code(group: Group, code: str, context: Context) -> Reading:
    intent = read_intent(group, {}, context.comment, code)
    if intent is None:
        return NOTHING
    explicit = not isinstance(intent, Intent) or intent.explicit
    return Reading("review", reason=f"{code} is not in tonight's lineup", explicit=explicit)


def _read_unknown_name(group: Group, anchor: Token, context: Context, alone: bool) -> Reading:
    match = match_name(anchor.text, context.lineup)
    if match.keyword is not None:
        return _read_keyword(group, match.keyword, context)._replace(fuzzy=True)
    name = context.comment.quote(anchor.start, anchor.end)
    if read_intent(group, {}, context.comment, name) is None:
        return Reading("none", fuzzy=True)
    meant = list(match.nearby)
    if not meant and alone and context.on_screen is not None:
        meant = [context.on_screen]
    candidates = _candidates_for(group, meant, context)
    maybe = ", ".join(context.lineup.keywords[index].display for index in match.nearby)
    reason = f"'{name}' is not in tonight's lineup" + (f" (maybe {maybe})" if maybe else "")
    return Reading("review", reason=reason, candidates=candidates, fuzzy=True)


def _read_on_screen(group: Group, context: Context) -> Reading:
    """An item naming no product (`+1`, `紅L +1`, `mine`) is for the product on screen."""
    if context.on_screen is None:
        return _read_with_nothing_on_screen(group, context)
    keyword = context.lineup.keywords[context.on_screen]
    name = f"{keyword.display} (on screen)"
    intent = read_intent(group, keyword.spellings, context.comment, name)
    if isinstance(intent, Intent):
        foreign = [token for token in intent.strangers if token.kind is VALUE]
        if foreign:
            words = _words(foreign, context.comment)
            options = "is not an option" if len(foreign) == 1 else "are not options"
            return Reading(
                "review",
                reason=f"{words} {options} of {name}",
                candidates=_by_values(group, context),
            )
        if not intent.explicit:
            if not intent.parts[0].values:
                return NOTHING
            reading = _resolve(keyword, intent, name, context)
            return _review(
                f"'{_typed(context.comment)}' names a variant but no quantity",
                _as_candidates(reading),
                keyword.display,
            )
    return _resolve(keyword, intent, name, context)


def _read_with_nothing_on_screen(group: Group, context: Context) -> Reading:
    intent = read_intent(group, {}, context.comment, "the product on screen")
    if intent is None or (isinstance(intent, Intent) and not intent.explicit):
        return NOTHING
    if context.current:
        reason = f"the product on screen ({context.current}) is not in tonight's lineup"
    else:
        reason = f"no product is on screen for '{_typed(context.comment)}'"
    return Reading("review", reason=reason, candidates=_by_values(group, context))


def _resolve(
    keyword: Keyword, intent: Intent | Unsure | None, name: str, context: Context
) -> Reading:
    if intent is None:
        return NOTHING
    if isinstance(intent, Unsure):
        guess = _resolve(keyword, intent.guess, name, context)
        return _review(intent.reason, _as_candidates(guess), keyword.display)
    parts = [
        _resolve_part(keyword, intent.action, part, intent.strangers, name, context)
        for part in intent.parts
    ]
    reading = parts[0] if len(parts) == 1 else combine(parts, chatty=False)
    return Reading(
        reading.status,
        reading.items,
        reading.reason,
        reading.candidates,
        explicit=intent.explicit,
        subject=keyword.display,
    )


def _resolve_part(
    keyword: Keyword,
    action: Action,
    part: Part,
    strangers: Sequence[Token],
    name: str,
    context: Context,
) -> Reading:
    quantity = part.quantity
    if not keyword.options:
        item = OrderItem(action, keyword.variants[0][1], quantity)
        foreign = [token for token in strangers if token.kind is VALUE]
        if foreign:
            words = _words(foreign, context.comment)
            return _review(
                f"{name} has no options; not sure what {words} means", ((item,),), keyword.display
            )
        return Reading("order", (item,), subject=keyword.display)
    chosen: dict[int, set[int]] = {}
    for value in part.values:
        option, index = keyword.spellings[value.text]
        chosen.setdefault(option, set()).add(index)
    matching = [
        sku
        for values, sku in keyword.variants
        if all(values[option] in indexes for option, indexes in chosen.items())
    ]
    choices = tuple((OrderItem(action, sku, quantity),) for sku in matching)
    doubled = next((option for option, indexes in chosen.items() if len(indexes) > 1), None)
    if doubled is not None:
        spoken = "/".join(keyword.options[doubled].values[i] for i in sorted(chosen[doubled]))
        return _review(
            f"{name}: which {keyword.options[doubled].kind}, {spoken}?", choices, keyword.display
        )
    missing = [option for option in range(len(keyword.options)) if option not in chosen]
    if missing and action == "cancel" and quantity is None:
        # "Cancel A1" takes back every A1 the buyer holds, whichever variants those are.
        return Reading("order", tuple(item for (item,) in choices), subject=keyword.display)
    if missing:
        labels = _and([keyword.options[option].label for option in missing])
        words = _words(strangers, context.comment)
        unknown = f"; {words} {_is(strangers)} not one of them" if strangers else ""
        return _review(f"{name} needs {labels}{unknown}", choices, keyword.display)
    if not matching:
        said = " ".join(keyword.options[o].values[next(iter(i))] for o, i in chosen.items())
        others = tuple((OrderItem(action, sku, quantity),) for _, sku in keyword.variants)
        return _review(f"{name} does not come in {said}", others, keyword.display)
    return Reading("order", choices[0], subject=keyword.display)


def _glued_chatter(group: Group) -> tuple[Token, Token] | None:
    """The keyword and chatter typed against it with no space (`青蘋果`, `蘋果汁+1`)."""
    assert group.anchor is not None
    anchor = group.tokens[group.anchor]
    neighbours = group.tokens[max(group.anchor - 1, 0) : group.anchor + 2]
    for token in neighbours:
        if token.kind is CHATTER and (token.end == anchor.start or token.start == anchor.end):
            return anchor, token
    return None


def _candidates_for(group: Group, keywords: Sequence[int], context: Context) -> Candidates:
    """The readings of `group` if its product were each of `keywords`."""
    readings = []
    for index in keywords:
        keyword = context.lineup.keywords[index]
        intent = read_intent(group, keyword.spellings, context.comment, keyword.display)
        readings.append(_resolve(keyword, intent, keyword.display, context))
    return _first(chain.from_iterable(_as_candidates(reading) for reading in readings))


def _by_values(group: Group, context: Context) -> Candidates:
    """With no product on screen: the products whose options the comment names (`紅M+1`)."""
    typed = {token.text for token in group.tokens if token.kind is VALUE}
    if not typed:
        return ()
    keywords = [
        index
        for index, keyword in enumerate(context.lineup.keywords)
        if typed <= keyword.spellings.keys()
    ]
    return _candidates_for(group, keywords, context)


def _as_candidates(reading: Reading) -> Candidates:
    if reading.status == "order":
        return (reading.items,)
    return reading.candidates


def _needs_quantity(reading: Reading) -> Reading:
    if reading.status != "order":
        return reading
    return _review(f"{reading.subject} has no quantity", (reading.items,), reading.subject)


def _without_repeats(items: tuple[OrderItem, ...], fuzzy: bool) -> Reading:
    """A SKU written twice in one comment (`A2+1 A2+2`) may be a sum or a correction: staff
    decide, with the sum one press away."""
    skus = [item.sku for item in items]
    repeated = list(dict.fromkeys(sku for sku in skus if skus.count(sku) > 1))
    if not repeated:
        return Reading("order", items, fuzzy=fuzzy)
    reason = f"{_and(repeated)} {_is(repeated)} written more than once"
    return Reading("review", reason=reason, candidates=_first([items]), fuzzy=fuzzy)


def _summed(items: Sequence[OrderItem]) -> tuple[OrderItem, ...] | None:
    if any(item.action != "add" or item.quantity is None for item in items):
        return None
    totals: dict[str, int] = {}
    for item in items:
        totals[item.sku] = totals.get(item.sku, 0) + (item.quantity or 0)
    if max(totals.values()) > MOST_PER_COMMENT:
        return None
    return tuple(OrderItem("add", sku, total) for sku, total in totals.items())


def _candidates(readings: Sequence[Reading]) -> Candidates:
    """Every combination of the items' readings: the sure ones as they are, each unsure one as
    one of its candidates (or left out when it has none)."""
    choices = [
        [reading.items] if reading.status == "order" else [*reading.candidates] or [()]
        for reading in readings
    ]
    return _first(tuple(chain.from_iterable(combination)) for combination in product(*choices))


def _first(candidates: Iterable[tuple[OrderItem, ...]]) -> Candidates:
    """The first few distinct candidates, each naming a SKU once (repeats summed)."""
    kept: dict[tuple[OrderItem, ...], None] = {}
    for candidate in candidates:
        once = candidate
        if len({item.sku for item in candidate}) < len(candidate):
            once = _summed(candidate) or ()
        if once:
            kept[once] = None
        if len(kept) == MOST_CANDIDATES:
            break
    return tuple(kept)


def _review(reason: str, candidates: Candidates, subject: str) -> Reading:
    return Reading("review", reason=reason, candidates=candidates, subject=subject)


def _words(tokens: Sequence[Token], comment: Comment) -> str:
    return first_few(f"'{comment.quote(token.start, token.end)}'" for token in tokens)


def _is(things: Sequence[object]) -> str:
    return "is" if len(things) == 1 else "are"


def _typed(comment: Comment) -> str:
    return " ".join(comment.original.split())


def _and(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
