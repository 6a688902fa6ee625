"""Standalone double.

python -m tests.fakes.inngest_double --port 8288 [--signing-key K] [--event-key K] [--realtime]
"""

from __future__ import annotations

import argparse
import sys

from ._double import InngestDouble


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Inngest server test double")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8288)
    parser.add_argument("--signing-key", default=None)
    parser.add_argument("--event-key", default=None)
    parser.add_argument(
        "--realtime", action="store_true", help="virtual clock also follows wall time"
    )
    parser.add_argument(
        "--retry-delay", type=float, default=0.0, help="virtual seconds between retries"
    )
    args = parser.parse_args(argv)
    double = InngestDouble(**vars(args))  # each option is named as the double's argument
    print(
        f"inngest double listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True
    )
    double.serve_forever()


if __name__ == "__main__":
    main()
