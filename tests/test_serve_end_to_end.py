"""`livecart serve` as deployed: a signed comment in, a private reply with a checkout link out
(to the project's fake Graph API), an order in the staff API and the event for a pulling store."""

import asyncio
from pathlib import Path

import aiohttp

from bot.fakes.graph_api import FakeGraph
from bot.fakes.meta_webhooks import envelope, facebook_comment, signed_body
from tests.cli import clean_env, serving, start_live_over_api
from tests.pipeline import PAGE, VIDEO


async def test_a_comment_becomes_a_reply_an_order_and_an_event(tmp_path: Path) -> None:
    async with FakeGraph.running(host="127.0.0.1", port=0, app_secret="e2e-secret") as graph:
        graph.add_page(PAGE, "page-token")
        env = clean_env(
            META_APP_SECRET="e2e-secret",
            STAFF_TOKEN="staff",
            META_GRAPH_URL=graph.url,
            META_PAGE_TOKEN="page-token",
        )
        headers = {"Authorization": "Bearer staff"}
        with serving(env, tmp_path) as base:
            async with aiohttp.ClientSession() as http:
                live = await start_live_over_api(http, base, "staff")
                body, signed = signed_body(
                    envelope(
                        "page",
                        [
                            (
                                PAGE,
                                [
                                    facebook_comment(
                                        page_id=PAGE,
                                        video_id=VIDEO,
                                        comment="1",
                                        text="A2+2",
                                        author_id="u1",
                                        author_name="Jane",
                                    )
                                ],
                            )
                        ],
                    ),
                    "e2e-secret",
                )
                async with http.post(f"{base}/webhooks/meta", data=body, headers=signed) as ack:
                    assert ack.status == 200
                for _ in range(150):
                    if graph.messages:
                        break
                    await asyncio.sleep(0.1)
                async with http.get(
                    f"{base}/api/lives/{live['id']}/orders", headers=headers
                ) as response:
                    orders = await response.json()
                async with http.get(f"{base}/api/events?after=0", headers=headers) as response:
                    events = await response.json()
                (message,) = graph.messages
                async with http.get(orders[0]["checkout_url"]) as page:
                    checkout_html = await page.text()
    assert message.comment_id == f"{VIDEO}_1"
    assert orders[0]["checkout_url"] in message.text
    assert orders[0]["lines"] == [{"sku": "A2", "quantity": 2, "price": 590.0}]
    assert [e["event"] for e in events["events"]] == ["order.reserved"]
    assert "保溫杯" in checkout_html
