"""A TCP proxy that adds a fixed delay each way: a site laptop's network, on one machine.

    python bench/delay_proxy.py --to 127.0.0.1:8000 --round-trip-ms 25 [--listen 127.0.0.1:0]

prints ``LISTENING HOST PORT`` once it accepts connections, then forwards every connection
to ``--to``. Each chunk of bytes is held for half the round trip in its direction and
then written in the order it came, so a request and its answer together gain the round
trip, whatever their size, and nothing is reordered or lost. In a benchmark it runs in a
thread of its own (`DelayProxy`), with its own event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable


class DelayProxy:
    """A running proxy: ``with DelayProxy(("127.0.0.1", 8000), 0.025) as proxy:`` then
    connect to ``proxy.port``. ``clock`` (monotonic seconds) and ``sleep`` are injectable
    so the tests check the schedule without waiting on a clock."""

    def __init__(self, target: tuple[str, int], round_trip: float, *,
                 listen: tuple[str, int] = ("127.0.0.1", 0),
                 clock: Callable[[], float] = time.monotonic) -> None:
        if round_trip < 0:
            raise ValueError("the round trip cannot be negative")
        self.target = target
        self.one_way = round_trip / 2
        self.listen = listen
        self.clock = clock
        self.port = 0
        #: Chunks forwarded so far, and the bytes in them (both directions).
        self.chunks = 0
        self.bytes = 0
        #: For each forwarded chunk: (when it arrived, when it was due out), from ``clock``.
        self.schedule: list[tuple[float, float]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None

    # ------------------------------------------------------------ in a thread

    def __enter__(self) -> DelayProxy:
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._failed is not None:
            raise RuntimeError(f"the delaying proxy did not start: {self._failed}")
        if not self._ready.is_set():
            raise RuntimeError("the delaying proxy did not start within 10 s")
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is not None and self._server is not None:
            loop.call_soon_threadsafe(self._server.close)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._connection, self.listen[0], self.listen[1]))
            self.port = int(self._server.sockets[0].getsockname()[1])
        except OSError as exc:
            self._failed = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    # ------------------------------------------------------------ forwarding

    async def _connection(self, client_in: asyncio.StreamReader,
                          client_out: asyncio.StreamWriter) -> None:
        try:
            server_in, server_out = await asyncio.open_connection(*self.target)
        except OSError:
            client_out.close()
            return
        await asyncio.gather(self._pipe(client_in, server_out),
                             self._pipe(server_in, client_out), return_exceptions=True)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Read chunks as they come; write each one ``one_way`` after it came, in order."""
        due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def writer() -> None:
            while True:
                when, chunk = await due.get()
                if not chunk:  # the other side closed: pass the end on
                    with contextlib.suppress(OSError):
                        sink.write_eof()
                    return
                wait = when - self.clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                sink.write(chunk)
                await sink.drain()

        out = asyncio.ensure_future(writer())
        try:
            while True:
                chunk = await source.read(65536)
                arrived = self.clock()
                if chunk:
                    self.chunks += 1
                    self.bytes += len(chunk)
                    self.schedule.append((arrived, arrived + self.one_way))
                due.put_nowait((arrived + self.one_way, chunk))
                if not chunk:
                    break
            await out
        except (OSError, asyncio.IncompleteReadError):
            out.cancel()
        finally:
            with contextlib.suppress(OSError):
                sink.close()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--to", type=_address, required=True, help="HOST:PORT to forward to")
    parser.add_argument("--listen", type=_address, default=("127.0.0.1", 0))
    parser.add_argument("--round-trip-ms", type=float, default=25.0)
    args = parser.parse_args(argv)
    with DelayProxy(args.to, args.round_trip_ms / 1000, listen=args.listen) as proxy:
        print(f"LISTENING {args.listen[0]} {proxy.port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
