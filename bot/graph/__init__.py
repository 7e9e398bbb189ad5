"""The Graph API client (aiohttp): private and public replies, live comments, app install."""

from bot.graph.client import DEFAULT_TIMEOUT, GraphClient
from bot.graph.errors import GraphError, GraphFailure, GraphUnavailable
from bot.graph.proof import appsecret_proof
from bot.graph.results import (
    CommentsPage,
    GraphComment,
    LiveVideo,
    Platform,
    PublicReply,
    SentMessage,
)
from bot.graph.usage import UNKNOWN_USAGE, BusinessUsage, Usage, parse_usage, usage_from_headers

__all__ = [
    "DEFAULT_TIMEOUT",
    "UNKNOWN_USAGE",
    "BusinessUsage",
    "CommentsPage",
    "GraphClient",
    "GraphComment",
    "GraphError",
    "GraphFailure",
    "GraphUnavailable",
    "LiveVideo",
    "Platform",
    "PublicReply",
    "SentMessage",
    "Usage",
    "appsecret_proof",
    "parse_usage",
    "usage_from_headers",
]
