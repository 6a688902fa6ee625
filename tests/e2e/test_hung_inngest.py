"""A hung Inngest event API with the app under gunicorn (production config: gthread workers), issue
10 item 4: every Front webhook is answered within Front's 5 s, and the Slack door keeps answering
within Slack's 3 s while the Front door's sends wait on Inngest."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.fakes.front import inbound_event, post_all, signed_webhook
from tests.fakes.slack import signed_event, url_verification_body
from tests.world import FRONT_SECRET, INBOX, SLACK_SECRET, World

FRONT_GIVES_UP = 5.0  # Front's webhook timeout (its contract)
SLACK_GIVES_UP = 3.0  # Slack's ack timeout (its contract)


def test_hung_event_api_neither_holds_front_nor_starves_slack(world: World) -> None:
    deliveries = [
        signed_webhook(
            FRONT_SECRET,
            inbound_event(
                f"evt_h{i}", f"cnv_h{i}", INBOX, f"msg_h{i}", "c@example.com", "Help", "Hello"
            ),
        )
        for i in range(16)  # twice the worker threads (2 workers x 4 threads)
    ]
    world.inngest.hang_event_api(seconds=8)
    try:
        with ThreadPoolExecutor(len(deliveries)) as pool:
            pending = post_all(pool, world.url + "/webhooks/front", deliveries, FRONT_GIVES_UP)
            world.inngest.wait_for_hung_request()
            slack_answers = []
            for _ in range(3):
                body, headers = signed_event(SLACK_SECRET, url_verification_body("c"))
                slack_answers.append(
                    httpx.post(
                        world.url + "/slack/events",
                        content=body,
                        headers=headers,
                        timeout=SLACK_GIVES_UP,
                    )
                )
            answers = [p.result() for p in pending]  # a ReadTimeout here = Front gave up
        assert [a.status_code for a in slack_answers] == [200, 200, 200]
        assert {a.status_code for a in answers} == {503}
        assert {a.json()["error"] for a in answers} == {"event_not_sent"}
        assert world.inngest.hung_requests <= 6, "at most threads - 1 sends wait per worker"
    finally:
        world.inngest.release_event_api(process_held=False)
    # Inngest answers again (after the hold-off): Front's redelivery is accepted.
    body, headers = deliveries[0]
    deadline = time.monotonic() + 30
    while True:
        answer = httpx.post(
            world.url + "/webhooks/front", content=body, headers=headers, timeout=10
        )
        if answer.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert answer.status_code == 200, answer.text
