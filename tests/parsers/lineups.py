"""Lineups the parser tests read comments against, and a short way to write what they expect."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from parsers import (
    CompiledLineup,
    OrderItem,
    ParseResult,
    compile_lineup,
    parse_comment,
    read_lineup,
)

DATA = Path(__file__).parent / "data"

# The shared corpus's lineup (A1 in 4 variants, A2, A12, B3, C7, 蘋果, 小熊杯).
CORPUS = compile_lineup(read_lineup((DATA / "lineup.csv").read_text(encoding="utf-8")))

# Another shop: codes with leading zeros and letters (K07, XL2), Chinese words (芒果, 牛肉乾, 和牛),
# a keyword written in Simplified only (发夹), English multiword aliases, shoes in colour and size,
# pyjamas with three options.
SHOP_CSV = """\
keyword,sku,name,price,stock,variant,aliases,max_per_buyer
K07,K07-BLK-38,跑鞋,1890,5,黑/black 38,,2
K07,K07-BLK-40,跑鞋,1890,5,黑/black 40,,2
K07,K07-WHT-38,跑鞋,1890,5,白/white 38,,2
K07,K07-WHT-40,跑鞋,1890,5,白/white 40,,2
XL2,XL2,特大抱枕,990,3,,big pillow,
芒果,MANGO-BOX,愛文芒果禮盒,1200,,,mango,
牛肉乾,JERKY,蜜汁牛肉乾,299.5,40,,beef jerky/肉乾,5
和牛,WAGYU,和牛燒肉片,2200,6,,wagyu,
发夹,CLIP,珍珠发夹,120,50,,hair clip,
H3,H3-S-CRM-SLK,睡衣,1590,2,S 米/cream 絲/silk,,
H3,H3-M-CRM-SLK,睡衣,1590,2,M 米/cream 絲/silk,,
H3,H3-S-GRY-CTN,睡衣,1290,2,S 灰/grey 棉/cotton,,
H3,H3-M-GRY-CTN,睡衣,1290,2,M 灰/grey 棉/cotton,,
"""
SHOP = compile_lineup(read_lineup(SHOP_CSV))


Item = tuple[str, str, int | None]


def items(result: ParseResult) -> list[Item]:
    return items_of(result.items)


def items_of(reading: Sequence[OrderItem]) -> list[Item]:
    return [(item.action, item.sku, item.quantity) for item in reading]


def candidates(result: ParseResult) -> list[list[Item]]:
    return [items_of(candidate) for candidate in result.candidates]


def read(text: str, current: str | None = None, lineup: CompiledLineup = SHOP) -> ParseResult:
    return parse_comment(text, lineup, current)
