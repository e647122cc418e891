"""Every value of every section is checked before anything starts: a bad one is one
`file: key: problem` line, from `tocsin check` and from `tocsin run` alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigError, load_config
from tests.test_cli import tocsin
from tests.test_config import VALID, load_text, problem

CHANNEL = 'address = "-1001234567890"\n'


def with_channel(line: str) -> str:
    """VALID with one more line in its channel."""
    return VALID.replace(CHANNEL, CHANNEL + line + "\n")


# (what the file says, the key named, words of the problem)
BAD_VALUES = [
    ('\n[digest]\ncron = "not a cron"\n', "digest.cron", 'invalid cron expression "not a cron"'),
    ('\n[digest]\ncron = "0 25 * * mon"\n', "digest.cron", 'invalid cron expression "0 25'),
    ('\n[digest]\ncron = "0 8 * *"\n', "digest.cron", "five fields are expected"),
    ('\n[digest]\ncron = "0 8 * * 1"\n', "digest.cron", "write the weekday as a name"),
    (
        '\n[digest]\ntimezone = "Europe/Pariss"\n',
        "digest.timezone",
        'unknown time zone "Europe/Pariss"',
    ),
    ('\n[digest]\ntimezone = ""\n', "digest.timezone", 'unknown time zone ""'),
    (with_channel('timezone = "Mars/Olympus"'), "channels[0].timezone", "unknown time zone"),
    (with_channel('quiet = "25:00-07:00"'), "channels[0].quiet", 'invalid quiet hours "25:00'),
    (with_channel('quiet = "22h-7h"'), "channels[0].quiet", "expected HH:MM-HH:MM"),
    (with_channel('quiet = "07:00-07:00"'), "channels[0].quiet", "starts and ends at the same"),
    (
        VALID.replace('borders = ["franco-italienne"]', "borders = []"),
        "channels[0].borders",
        "at least 1 item",
    ),
    (with_channel('language = "it"'), "channels[0].language", "'fr' or 'en' (got 'it')"),
    (
        '\n[alerts]\ngroup_window = "-5m"\n',
        "alerts.group_window",
        'invalid duration "-5m"',
    ),
    ('\n[alerts]\ngroup_window = "0m"\n', "alerts.group_window", "must be positive"),
    ("\n[alerts]\ngroup_window = -300\n", "alerts.group_window", "write it with a unit"),
    ('\n[delivery]\nmax_retry = "forever"\n', "delivery.max_retry", 'invalid duration "forever"'),
    (
        "\n[delivery]\ntelegram_global_per_second = 0\n",
        "delivery.telegram_global",
        "greater than 0",
    ),
    ("\n[delivery]\ntelegram_group_per_minute = inf\n", "delivery.telegram_group", "finite"),
    ("\n[feed_watch]\nconcurrency = 0\n", "feed_watch.concurrency", "greater than or equal to 1"),
    ("\n[feed_watch]\nannounce_first = -1\n", "feed_watch.announce_first", "greater than"),
    ("\n[alerts]\nmax_length = 10\n", "alerts.max_length", "greater than or equal to 100"),
    ("\n[telegram]\npoll_timeout = 120\n", "telegram.poll_timeout", "less than or equal to 60"),
    ('\n[telegram]\nbase_url = "api.telegram.org"\n', "telegram.base_url", "invalid address"),
    ('\n[telegram]\nlisten = "8443"\n', "telegram.listen", 'invalid listen address "8443"'),
    ('\n[telegram]\nlisten = "0.0.0.0:99999"\n', "telegram.listen", "invalid listen address"),
    ('\n[telegram]\nlisten = "[::1:8443"\n', "telegram.listen", "invalid listen address"),
    ('\n[telegram]\nmode = "webhook"\n', "telegram.webhook_url", 'required when mode = "webhook"'),
    (
        '\n[matrix]\nhomeserver = "matrix.example.org"\nuser_id = "@t:example.org"\n',
        "matrix.homeserver",
        "a full http:// or https:// URL",
    ),
    (
        '\n[matrix]\nhomeserver = "https://m.example.org"\nuser_id = "tocsin"\n',
        "matrix.user_id",
        'invalid Matrix user id "tocsin"',
    ),
    (
        '\n[[feeds]]\nid = "ce"\nurl = "https://"\n',
        "feeds[0].url",
        'invalid address "https://"',
    ),
    ('\n[[feeds]]\nid = "ce"\nurl = "https://e.o/r"\nevery = "0s"\n', "feeds[0].every", "positiv"),
    ('\n[[feeds]]\nid = "Conseil Etat"\nurl = "https://e.org/rss"\n', "feeds[0].id", "invalid id"),
    (
        '\n[[feeds]]\nid = "ce"\nurl = "https://e.org/rss"\nkeywords = [""]\n',
        "feeds[0].keywords",
        "",
    ),
    ('\n[[organisations]]\nid = "x"\nname = ""\n', "organisations[1].name", "at least 1 character"),
    (
        VALID.replace('user = "111111"', 'user = "@alice"'),
        "members[0].user",
        'invalid Telegram user id "@alice"',
    ),
    (
        VALID.replace(CHANNEL, 'address = "anafe-italie"\n'),
        "channels[0].address",
        'invalid Telegram chat address "anafe-italie"',
    ),
    (
        VALID.replace('platform = "telegram"\naddress', 'platform = "matrix"\naddress'),
        "channels[0].address",
        'invalid Matrix room id "-1001234567890"',
    ),
    ('language = "de"\n' + VALID, "language", "'fr' or 'en' (got 'de')"),
    (
        VALID.replace(
            'platform = "telegram"\naddress = "-1001234567890"',
            'platform = "matrix"\naddress = "!room id"',
        ),
        "channels[0].address",
        'invalid Matrix room id "!room id"',
    ),
]


@pytest.mark.parametrize(("text", "key", "words"), BAD_VALUES)
def test_each_bad_value_is_one_line_naming_its_key(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    text = text if text.lstrip().startswith(("[storage]", "language")) else VALID + text
    message = problem(tmp_path, text)
    assert message.startswith(f"{tmp_path}/tocsin.toml: {key}"), message
    assert words in message
    assert "\n" not in message


def test_a_database_url_problem_never_shows_the_password(tmp_path: Path) -> None:
    text = VALID.replace(
        'url = "sqlite+aiosqlite:///x.db"', 'url = "mysql://tocsin:s3cret@db/tocsin"'
    )
    message = problem(tmp_path, text)
    assert message.startswith(f'{tmp_path}/tocsin.toml: storage.url: unsupported database "mysql"')
    assert "s3cret" not in message
    path = tmp_path / "ok.toml"
    path.write_text(VALID, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), {"TOCSIN_DATABASE_URL": "postgresql://u:s3cret@db/x"})
    assert str(caught.value).startswith('TOCSIN_DATABASE_URL: unsupported database "postgresql"')
    assert "s3cret" not in str(caught.value)


def test_good_values_are_kept(tmp_path: Path) -> None:
    text = (
        with_channel('quiet = "22:00-07:00"\ntimezone = "America/Cayenne"')
        + '\n[digest]\ncron = "30 7 * * mon-fri"\ntimezone = "UTC"\n'
        + '\n[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.org/t"\n'
        + 'listen = "::1:8443"\n'
    )
    settings = load_text(tmp_path, text).settings  # type: ignore[attr-defined]
    assert settings.channels[0].quiet == "22:00-07:00"
    assert settings.digest.cron == "30 7 * * mon-fri"
    assert settings.telegram.listen == "::1:8443"


def test_a_catalogue_feed_also_listed_in_the_file_is_kept_once(tmp_path: Path) -> None:
    text = VALID + (
        '\n[feed_watch]\nenable = ["conseil-etat-actualites", "defenseur-des-droits"]\n'
        '\n[[feeds]]\nid = "conseil-etat"\n'
        'url = "https://WWW.conseil-etat.fr/rss/actualites-rss/"\nevery = "2h"\n'
    )
    settings = load_text(tmp_path, text).settings  # type: ignore[attr-defined]
    assert [feed.id for feed in settings.feeds] == ["conseil-etat", "defenseur-des-droits"]
    assert settings.feeds[0].every.total_seconds() == 7200  # the file's own settings win


def test_a_catalogue_feed_redefined_by_id_is_the_files(tmp_path: Path) -> None:
    text = VALID + (
        '\n[feed_watch]\nenable = ["conseil-etat-actualites"]\n'
        '\n[[feeds]]\nid = "conseil-etat-actualites"\nurl = "https://mirror.example.org/ce"\n'
    )
    settings = load_text(tmp_path, text).settings  # type: ignore[attr-defined]
    assert [(f.id, f.url) for f in settings.feeds] == [
        ("conseil-etat-actualites", "https://mirror.example.org/ce")
    ]


def test_the_same_feed_twice_in_the_file_is_refused(tmp_path: Path) -> None:
    text = VALID + (
        '\n[feed_watch]\nenable = ["defenseur-des-droits"]\n'  # indices stay the file's
        '\n[[feeds]]\nid = "a"\nurl = "https://example.org/rss"\n'
        '\n[[feeds]]\nid = "b"\nurl = "http://example.org/rss/"\n'
    )
    assert problem(tmp_path, text) == (
        f'{tmp_path}/tocsin.toml: feeds[1].url: the same feed as "a" '
        "(each item would be announced twice): keep one entry"
    )


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        ('\n[digest]\ncron = "not a cron"\n', 'digest.cron: invalid cron expression "not a cron"'),
        ('\n[digest]\ntimezone = "Europe/Pariss"\n', "digest.timezone: unknown time zone"),
        ('\n[alerts]\ngroup_window = "-15m"\n', 'alerts.group_window: invalid duration "-15m"'),
    ],
)
@pytest.mark.parametrize("command", ["check", "run"])
def test_check_and_run_refuse_with_exit_code_2_and_one_line(
    tmp_path: Path, command: str, addition: str, expected: str
) -> None:
    path = tmp_path / "tocsin.toml"
    path.write_text(VALID + addition, encoding="utf-8")
    result = tocsin(command, "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"tocsin: {path}: {expected}")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()  # nothing was started
