"""Local stand-ins for Meta and Telegram that speak their wire formats (demo and tests)."""
