"""Reading live-sale comments into orders: pure, no I/O.

rows = read_lineup(csv_text)           # or LineupError("line 4: ...")
lineup = compile_lineup(rows)          # once per lineup
parse_comment("A1 紅 M +2", lineup, current="A2")
"""

from parsers.compiled import CompiledLineup, compile_lineup
from parsers.lineup import LineupError, LineupRow, read_lineup
from parsers.parse import parse_comment
from parsers.result import OrderItem, ParseResult

__all__ = [
    "CompiledLineup",
    "LineupError",
    "LineupRow",
    "OrderItem",
    "ParseResult",
    "compile_lineup",
    "parse_comment",
    "read_lineup",
]
