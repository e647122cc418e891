"""Start-up says what runs: one INFO line per relay, started or skipped and why, and a
WARNING naming (by id, never by address or text) the channels no relay serves."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.telegram_process import TelegramServerProcess
from tests.test_cli import tocsin

CHANNELS = """
[[organisations]]
id = "org"
name = "Org"

[[channels]]
id = "vigie"
platform = "console"
address = "vigie"
organisation = "org"

[[channels]]
id = "tg-menton"
platform = "telegram"
address = "-1001111111111"
organisation = "org"

[[channels]]
id = "tg-hendaye"
platform = "telegram"
address = "-1002222222222"
organisation = "org"

[[channels]]
id = "mx-juridique"
platform = "matrix"
address = "!juridique:example.org"
organisation = "org"
"""


def tocsin_run(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # the console's input is empty: the process stops by itself once started
    return tocsin("run", "--config", str(config), cwd=config.parent, env=env)


def log_lines(stderr: str) -> list[str]:
    """The messages logged by the composition root, as `LEVEL message`."""
    return [
        line.split(" ", 2)[2].replace(" bot.app: ", " ", 1)
        for line in stderr.splitlines()
        if " bot.app: " in line
    ]


def test_a_deployment_without_platform_credentials_says_what_it_skips(tmp_path: Path) -> None:
    config = tmp_path / "tocsin.toml"
    config.write_text(
        '[storage]\nurl = "sqlite+aiosqlite:///tocsin.db"\n[console]\ninteractive = true\n'
        + CHANNELS,
        encoding="utf-8",
    )
    result = tocsin_run(config)
    assert result.returncode == 0, result.stderr
    assert log_lines(result.stderr) == [
        "INFO telegram: TOCSIN_TELEGRAM_TOKEN not set, skipped",
        "INFO matrix: [matrix] homeserver not configured, skipped",
        "INFO console: started",
        "WARNING matrix: no relay, deliveries to 1 channel(s) wait: mx-juridique",
        "WARNING telegram: no relay, deliveries to 2 channel(s) wait: tg-hendaye, tg-menton",
    ]
    for address in ("-1001111111111", "-1002222222222", "!juridique:example.org"):
        assert address not in result.stderr


def test_a_started_relay_is_named_and_its_channels_are_not_waiting(tmp_path: Path) -> None:
    with TelegramServerProcess() as server:
        config = tmp_path / "tocsin.toml"
        config.write_text(
            '[storage]\nurl = "sqlite+aiosqlite:///tocsin.db"\n[console]\ninteractive = true\n'
            f'[telegram]\nbase_url = "{server.api_url}"\n'
            '[matrix]\nhomeserver = "http://127.0.0.1:9"\nuser_id = "@tocsin:example.org"\n'
            + CHANNELS,
            encoding="utf-8",
        )
        result = tocsin_run(config, {"TOCSIN_TELEGRAM_TOKEN": server.token})
    assert result.returncode == 0, result.stderr
    assert log_lines(result.stderr) == [
        "INFO matrix: neither TOCSIN_MATRIX_ACCESS_TOKEN nor TOCSIN_MATRIX_PASSWORD set, skipped",
        "INFO console: started",
        "INFO telegram: started",
        "WARNING matrix: no relay, deliveries to 1 channel(s) wait: mx-juridique",
    ]
    assert server.token not in result.stderr
