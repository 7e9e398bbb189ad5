"""Senders of the outbox: Graph API replies (paced per Page) and the central store sync."""

from bot.dispatch.rate import Pace, RateLimiter, TokenBucket, pace_for
from bot.dispatch.replies import ReplyDispatcher, ReplyPolicy
from bot.dispatch.service import run_senders
from bot.dispatch.store_sync import StorePolicy, StoreSync
from bot.dispatch.store_wire import signature, signature_matches

__all__ = [
    "Pace",
    "RateLimiter",
    "ReplyDispatcher",
    "ReplyPolicy",
    "StorePolicy",
    "StoreSync",
    "TokenBucket",
    "pace_for",
    "run_senders",
    "signature",
    "signature_matches",
]
