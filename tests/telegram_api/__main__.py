"""Run the test Bot API server until SIGTERM/SIGINT; its base URL is printed on stdout.

python -m tests.telegram_api --port 8081 --token 123:ABC... [--rate-scale 10] [--no-limits]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .server import DEFAULT_TOKEN, BotApiServer


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.telegram_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the one bot token accepted")
    parser.add_argument("--rate-scale", type=float, default=1.0, help="10 = limits 10x faster")
    parser.add_argument("--no-limits", action="store_true", help="turn the flood limits off")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault RNG")
    return parser.parse_args(argv)


async def serve(arguments: argparse.Namespace) -> None:
    server = BotApiServer(
        arguments.token,
        rate_scale=arguments.rate_scale,
        limits=not arguments.no_limits,
        seed=arguments.seed,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start(arguments.host, arguments.port)
    try:
        print(server.base_url, flush=True)
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        asyncio.run(serve(arguments))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
