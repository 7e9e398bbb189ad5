"""The pipeline that turns comments into orders and replies, its clients, and the CLI."""
