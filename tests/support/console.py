"""Drive the whole bot in-process through the console relay: lines in, printed lines out."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable
from pathlib import Path

from alerts.clock import Clock
from bot.app import Application, build
from config.loader import LoadedConfig, Secrets, build_settings
from storage.database import Database


def config_from(
    raw: dict[str, object], database_url: str, source: str = "test.toml"
) -> LoadedConfig:
    raw = dict(raw)
    raw.setdefault("storage", {"url": database_url})
    return LoadedConfig(
        settings=build_settings(raw, source), secrets=Secrets(), source=source, embedded=False
    )


async def run_console(
    config: LoadedConfig,
    lines: Iterable[str],
    *,
    clock: Clock | None = None,
    database: Database | None = None,
) -> list[str]:
    """Feed `lines` as the console member's messages; return every printed delivery."""
    pending = [line + "\n" for line in lines]

    def read_line() -> str:
        return pending.pop(0) if pending else ""

    output = io.StringIO()
    wiring = await build(
        config, clock=clock, console_output=output, console_input=read_line, database=database
    )
    await Application(wiring).run()
    return printed_messages(output.getvalue())


def printed_messages(output: str) -> list[str]:
    """The console's output cut into messages: a message starts with its `[chat]` line;
    its next lines are indented under it (or blank between paragraphs). The indentation
    is removed, so a message reads as the phone shows it."""
    messages: list[list[str]] = []
    for line in output.splitlines():
        if line and not line[0].isspace():
            messages.append([line])
        elif messages:
            messages[-1].append(line)
    return [
        "\n".join([first, textwrap.dedent("\n".join(rest))]) if rest else first
        for first, *rest in messages
    ]


def demo_raw(console_user: str = "local") -> dict[str, object]:
    import tomllib
    from importlib import resources

    raw = tomllib.loads(resources.files("config").joinpath("demo.toml").read_text("utf-8"))
    raw["console"] = {"interactive": True, "user": console_user}
    return raw


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
