"""The `tocsin` command as an operator runs it: real processes, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from storage.database import alembic_config
from tests.support.console import printed_messages

ROOT = Path(__file__).resolve().parents[1]


def tocsin(
    *args: str,
    cwd: Path,
    stdin: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    environment.update(env or {})
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        input=stdin,
        text=True,
        capture_output=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_run_on_the_embedded_default_fans_out_and_exits_zero(tmp_path: Path) -> None:
    result = tocsin(
        "run",
        cwd=tmp_path,
        stdin="/alert 12 personnes refoulées à Menton\n/alert bloqués à Hendaye\n",
    )
    assert result.returncode == 0, result.stderr
    lines = printed_messages(result.stdout)
    menton = {line.split("]")[0][1:] for line in lines if "refoulées à Menton" in line}
    hendaye = {line.split("]")[0][1:] for line in lines if "bloqués à Hendaye" in line}
    assert menton == {"vigie-italie"}
    assert hendaye == {"vigie-espagne"}
    assert (tmp_path / "tocsin-data" / "tocsin.db").exists()
    # no message text in the logs at INFO
    assert "Menton" not in result.stderr
    assert "Hendaye" not in result.stderr


def test_restart_keeps_the_data(tmp_path: Path) -> None:
    tocsin("run", cwd=tmp_path, stdin="/alert contrôle à Irun\n")
    result = tocsin("run", cwd=tmp_path, stdin="/alert contrôle à Irun encore\n")
    assert "Alerte #2" in result.stdout


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = tocsin("run", cwd=tmp_path, stdin="/help\n")
    assert "/alert <texte>" in result.stdout
    assert "/urgent" in result.stdout


def test_check_prints_the_routing_table() -> None:
    result = tocsin("check", "--config", "config/example.toml", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "config/example.toml: configuration valid" in result.stdout
    assert "anafe-italie" in result.stdout
    assert "franco-italienne → anafe-italie" in result.stdout


def test_check_of_a_broken_file_prints_the_precise_error(tmp_path: Path) -> None:
    path = tmp_path / "tocsin.toml"
    path.write_text(
        '[[organisations]]\nid = "a"\nname = "A"\n[[channels]]\nid = "c"\n'
        'platform = "console"\naddress = "c"\norganisation = "a"\n'
        'borders = ["franco-italiene"]\n',
        encoding="utf-8",
    )
    result = tocsin("check", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f'tocsin: {path}: channels[0].borders: unknown border "franco-italiene" '
        '(did you mean "franco-italienne"?)'
    )
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = tocsin(
        "run", cwd=tmp_path, env={"TOCSIN_DATABASE_URL": "postgresql+asyncpg://u:pw@127.0.0.1:9/x"}
    )
    assert result.returncode == 2
    assert result.stderr.startswith("tocsin: cannot use the database postgresql+asyncpg://u:***@")
    assert "Traceback" not in result.stderr
    assert "pw@" not in result.stderr


def test_db_upgrade_and_version(tmp_path: Path) -> None:
    result = tocsin("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"database at revision {head}\n" == result.stdout
    assert tocsin("--version", cwd=tmp_path).stdout.startswith("tocsin ")


def test_worker_refuses_sqlite(tmp_path: Path) -> None:
    result = tocsin("worker", cwd=tmp_path)
    assert result.returncode == 2
    assert "needs PostgreSQL" in result.stderr


def test_check_refuses_a_token_pasted_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tocsin.toml"
    secret = "AAH-some_real_looking_token_value_xyz"
    path.write_text(
        f'[telegram]\nbase_url = "https://api.telegram.org/bot123456789:{secret}/"\n',
        encoding="utf-8",
    )
    result = tocsin("check", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tocsin: {path}: telegram.base_url: looks like a Telegram bot token; secrets are "
        "read from the environment only (TOCSIN_TELEGRAM_TOKEN, TOCSIN_MATRIX_ACCESS_TOKEN), "
        "never from the file"
    )
    assert secret not in result.stdout + result.stderr
