"""bench/delay_proxy.py: every byte through, in order, both ways, each chunk held for half
the round trip (the benchmarks through the application server use it)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from bench.delay_proxy import DelayProxy, main


@pytest.fixture
def echo_server():
    """A TCP server on 127.0.0.1 that answers every chunk with the same bytes reversed,
    then closes when the client closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data[::-1])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()
    listener.close()


def _exchange(port: int, payloads: list[bytes]) -> list[bytes]:
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        for payload in payloads:
            conn.sendall(payload)
            got = b""
            while len(got) < len(payload):
                got += conn.recv(65536)
            answers.append(got)
    return answers


def test_every_byte_passes_both_ways_in_order(echo_server):
    payloads = [b"GET / HTTP/1.1\r\n\r\n", bytes(range(256)) * 1000, b"x"]
    with DelayProxy(echo_server, 0.004) as proxy:
        answers = _exchange(proxy.port, payloads)
    assert answers == [p[::-1] for p in payloads]
    assert proxy.bytes == 2 * sum(len(p) for p in payloads)
    # Each chunk is due out half the round trip after it came in.
    assert proxy.schedule and all(out - came == pytest.approx(0.002)
                                  for came, out in proxy.schedule)


def test_a_request_and_its_answer_gain_at_least_the_round_trip(echo_server):
    """One-sided: a loaded machine can only make it slower, never faster."""
    with DelayProxy(echo_server, 0.025) as proxy:
        _exchange(proxy.port, [b"warm"])
        start = time.perf_counter()
        _exchange(proxy.port, [b"ping"])
        elapsed = time.perf_counter() - start
    assert elapsed >= 0.024


def test_a_negative_delay_and_a_bad_address_are_refused():
    with pytest.raises(ValueError, match="negative"):
        DelayProxy(("127.0.0.1", 1), -0.01)
    with pytest.raises(SystemExit):
        main(["--to", "nowhere"])
