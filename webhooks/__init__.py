"""The aiohttp application: Meta webhook routes, staff API, checkout pages."""
