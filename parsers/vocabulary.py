"""The words of live selling that belong to no lineup (parsing.md rules 2, 4, 5, 7, 8, 10).

Written as viewers write them, in either script; `normalize` folds them with the comments.
"""

from __future__ import annotations

# fmt: off
# A wanting word with no quantity orders 1 (`A2 我要`, `收A2`, `SOLD A1 2 red M`, `mine`).
WANTING = (
    "我要", "要", "收", "想要", "我想要", "我也要", "也要", "我買", "買", "想買", "我想買",
    "buy", "sold", "mine", "claim", "want", "me too",
)

# Cancels the item it goes with, or the product on screen.
CANCELLING = ("取消", "不要了", "我不要了", "不用了", "cancel", "pass")

# Questions (`C7還有嗎?`, `C7多少錢`, `How much is A2?`): an item asked about is not ordered.
ASKING = (
    "?", "嗎", "呢", "多少", "幾", "還有", "請問", "問", "有沒有", "是什麼", "什麼", "怎麼",
    "如何", "哪", "要不要", "價格", "價錢",
    "how", "what", "when", "where", "which", "why", "price", "available",
)

# Between items (`A2+1、C7+1`, `A2 x1 和 B3 x2`); a line break separates too.
SEPARATING = (",", ";", "、", "。", "和", "跟", "及", "與", "and", "&")

# Thanks, particles, the host addressed, `please`: they carry nothing (`C7+1 謝謝❤️`).
NOISE = (
    "謝謝", "謝啦", "感謝", "感恩", "thanks", "thank you", "thank u", "thx", "ty", "tq",
    "喔", "哦", "啦", "呀", "唷", "喲", "啊", "囉", "耶",
    "主播", "老闆", "老闆娘", "闆娘", "小編", "please", "pls", "plz", "i", "就好", "好了",
)

# Words that contain a wanting word without wanting anything (`收到` is "received").
NOT_WANTING = ("收到", "不要", "重要", "主要", "需要", "只要", "要是")

# Counting words after a quantity (`2件`, `兩個`, `3pcs`, `蘋果一盒`).
COUNTERS = (
    "件", "個", "組", "份", "盒", "包", "瓶", "支", "條", "雙", "罐", "袋", "顆", "套", "箱",
    "隻", "本", "pcs", "pc", "pieces", "piece",
)

# Words that make a number a quantity when they come right before it (`B3要5`, `買兩個`, `加一`).
QUANTITY_VERBS = ("要", "買", "收", "加")

# What may follow a quantity directly without making it part of a longer word (`加一謝謝`,
# `3個就好`); other Chinese typed against a quantity makes it words of a sentence (`一個多少`).
QUANTITY_FOLLOWERS = (
    "謝", "感", "喔", "哦", "啦", "呀", "唷", "喲", "啊", "囉", "耶", "就好", "好了", "就可以",
)

# Option values that tell staff what kind of option is missing ("needs a colour (紅/藍)").
COLOURS = (
    "紅", "藍", "綠", "黑", "白", "粉", "黃", "紫", "灰", "橘", "橙", "棕", "咖啡", "米", "卡其",
    "金", "銀", "深藍", "淺藍", "天藍", "酒紅", "墨綠", "軍綠", "粉紅", "杏", "奶茶",
    "red", "blue", "green", "black", "white", "pink", "yellow", "purple", "grey", "gray",
    "orange", "brown", "navy", "beige", "khaki", "gold", "silver", "cream", "ivory",
)
SIZES = (
    "xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl", "5xl", "f", "free",
    "均碼", "大", "中", "小", "特大", "small", "medium", "large",
)
# fmt: on
