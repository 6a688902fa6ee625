"""A small closed-loop HTTP/1.1 load generator on asyncio (keep-alive, pre-encoded requests).

Each of ``concurrency`` connections takes the next request from the list and waits for its answer
before sending another; the run stops when every request was sent or ``max_seconds`` passed.
Latency is measured per request on the client (send to last byte). Only 127.0.0.1 is allowed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass
class Result:
    sent: int
    elapsed: float
    latencies: list[float]
    statuses: Counter[int]
    errors: int
    cpu_before: float = 0.0  # the server's worker CPU seconds around the run (set by run.py)
    cpu_after: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]

    @property
    def p50_ms(self) -> float:
        return self.percentile(50) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(99) * 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    close = False
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            close = True
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def _run(
    port: int, payloads: list[bytes], concurrency: int, max_seconds: float, timeout: float
) -> Result:
    next_index = 0
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    deadline = time.monotonic() + max_seconds

    async def worker() -> None:
        nonlocal next_index, errors
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while next_index < len(payloads) and time.monotonic() < deadline:
            payload = payloads[next_index]
            next_index += 1
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                assert reader is not None
                started = time.perf_counter()
                writer.write(payload)
                status, close = await asyncio.wait_for(_read_response(reader), timeout)
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                if close:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Result(next_index, elapsed, latencies, statuses, errors)


def run(
    port: int,
    requests: list[Request],
    *,
    concurrency: int = 50,
    max_seconds: float = 30.0,
    timeout: float = 10.0,
) -> Result:
    """Send ``requests`` to 127.0.0.1:``port`` with ``concurrency`` keep-alive connections."""
    payloads = [r.encode(port) for r in requests]
    return asyncio.run(_run(port, payloads, concurrency, max_seconds, timeout))
