"""The outside world for the benchmark, in its own process (so it does not compete with the load
generator for the GIL): an InngestDouble (dev mode, no function synced: events are only recorded)
and a SlackFake seeded with the approval messages the clicks will redraw.

``python -m benchmarks.sinks SEED.json`` prints ``{"inngest": url, "slack": url}`` on one line and
serves until its standard input closes.
"""

from __future__ import annotations

import json
import socketserver
import sys
from pathlib import Path

from tests.fakes.inngest_double import InngestDouble
from tests.fakes.inngest_double import _server as double_server
from tests.fakes.slack import SlackFake


def main(seed_path: str) -> None:
    seed = json.loads(Path(seed_path).read_text())
    # The stdlib default backlog (5) drops SYNs under 50 concurrent senders: 1 s stalls that would
    # be charged to the app. Raise it in this process only.
    double_server.DoubleHTTPServer.request_queue_size = 1024
    # The stdlib handlers write the status line and headers, then the body, in separate small
    # writes: with Nagle's algorithm on, the body waits for the client's delayed ACK (~40 ms per
    # event sent). Real Inngest and Slack do not do that; buffer the answer and set TCP_NODELAY.
    socketserver.StreamRequestHandler.wbufsize = 64 * 1024
    socketserver.StreamRequestHandler.disable_nagle_algorithm = True
    with InngestDouble() as inngest, SlackFake(token=seed["token"], team_id=seed["team"]) as slack:
        for channel, ts in seed["messages"]:
            slack.add_message(channel, ts, text="Approval requested")
        print(json.dumps({"inngest": inngest.url, "slack": slack.url}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main(sys.argv[1])
