#!/usr/bin/env python3
"""bench/link_relay.py — a TCP relay that adds a fixed one-way delay, for bench/bisect.sh.

This kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is off), so the shaped link of
bench/bisect.sh takes its rate limit from tc's tbf on a veth pair and its latency from this
relay: every chunk read from either side is written to the other DELAY_MS later, in order, so
a request/response round trip costs 2 × DELAY_MS and a stream keeps its throughput.

usage: link_relay.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS
"""

import asyncio
import sys
import time


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk leaving `delay` seconds after it arrived."""
    queue = asyncio.Queue(maxsize=64)  # at most 4 MB in flight: the far side's rate holds back the near one

    async def receive():
        while True:
            chunk = await reader.read(65536)
            await queue.put((time.monotonic() + delay, chunk))
            if not chunk:
                return

    async def send():
        while True:
            due, chunk = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                writer.close()
                return
            writer.write(chunk)
            await writer.drain()

    try:
        await asyncio.gather(receive(), send())
    except (ConnectionError, asyncio.IncompleteReadError):
        writer.close()


async def main(listen_host, listen_port, target_host, target_port, delay_ms):
    delay = delay_ms / 1000.0

    async def connection(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pump(client_reader, server_writer, delay),
            pump(server_reader, client_writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(connection, listen_host, listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    host, port, target, target_port, delay_ms = sys.argv[1:]
    asyncio.run(main(host, int(port), target, int(target_port), float(delay_ms)))
