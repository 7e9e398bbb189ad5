"""The staff bot on Telegram: review buttons, alerts and host commands (python-telegram-bot).

`run_staff_bot` runs it inside `livecart serve`; `TelegramIngress` is the webhook route's end;
`StaffSender` delivers the staff outbox; `build_application` builds the PTB Application.
"""

from bot.staffbot.app import build_application
from bot.staffbot.running import run_staff_bot
from bot.staffbot.sender import STAFF_KINDS, StaffSender
from bot.staffbot.webhook import ROUTE, TelegramIngress, add_telegram_route

__all__ = [
    "ROUTE",
    "STAFF_KINDS",
    "StaffSender",
    "TelegramIngress",
    "add_telegram_route",
    "build_application",
    "run_staff_bot",
]
