"""Configuration: the shipped example and default load; each bad input is one precise line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.toml"

VALID = """
[storage]
url = "sqlite+aiosqlite:///x.db"

[[organisations]]
id = "anafe"
name = "Anafé"

[[members]]
platform = "telegram"
user = "111111"
organisation = "anafe"
role = "admin"

[[channels]]
id = "anafe-italie"
platform = "telegram"
address = "-1001234567890"
organisation = "anafe"
borders = ["franco-italienne"]
"""


def load_text(tmp_path: Path, text: str) -> object:
    path = tmp_path / "tocsin.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(str(path), {})


def problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    return str(caught.value)


def test_embedded_default_has_vocabulary_and_console_channels() -> None:
    config = load_config(None, {})
    assert config.embedded
    assert {b.id for b in config.settings.borders} >= {
        "franco-italienne",
        "franco-espagnole",
        "manche",
        "zones-attente",
    }
    assert {t.id for t in config.settings.themes} == {
        "refoulement",
        "mineurs",
        "violences",
        "asile",
        "enfermement",
        "deces",
        "sante",
        "hebergement",
        "criminalisation",
        "juridique",
        "legislation",
    }
    assert all(c.platform == "console" for c in config.settings.channels)
    assert config.settings.storage.url.startswith("sqlite+aiosqlite:///tocsin-data/")


def test_shipped_example_is_valid() -> None:
    config = load_config(str(EXAMPLE), {})
    assert config.settings.channels
    assert config.settings.feeds


def test_file_extends_and_overrides_borders(tmp_path: Path) -> None:
    text = (
        VALID
        + """
[[borders]]
id = "franco-suisse"
name = "Frontière franco-suisse"
places = ["Genève", { name = "Bâle", lat = 47.56, lon = 7.59 }]

[[borders]]
id = "manche"
name = "Manche (redéfinie)"
places = ["Calais"]
"""
    )
    settings = load_text(tmp_path, text).settings  # type: ignore[attr-defined]
    borders = {b.id: b for b in settings.borders}
    assert borders["franco-suisse"].places[1].name == "Bâle"
    assert borders["manche"].name == "Manche (redéfinie)"
    assert [p.name for p in borders["manche"].places] == ["Calais"]
    assert "franco-italienne" in borders


def test_environment_overrides_database_and_carries_secrets(tmp_path: Path) -> None:
    path = tmp_path / "tocsin.toml"
    path.write_text(VALID, encoding="utf-8")
    config = load_config(
        str(path),
        {
            "TOCSIN_DATABASE_URL": "postgresql+asyncpg://db/tocsin",
            "TOCSIN_TELEGRAM_TOKEN": "123:abc",
        },
    )
    assert config.settings.storage.url == "postgresql+asyncpg://db/tocsin"
    assert config.secrets.telegram_token == "123:abc"
    assert "123:abc" not in repr(config.secrets)


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "from-env.toml"
    path.write_text(VALID, encoding="utf-8")
    assert load_config(None, {"TOCSIN_CONFIG": str(path)}).source == str(path)


def test_invalid_toml(tmp_path: Path) -> None:
    message = problem(tmp_path, "[storage\nurl = 1")
    assert message.startswith(f"{tmp_path}/tocsin.toml: invalid TOML:")


def test_unknown_key(tmp_path: Path) -> None:
    message = problem(tmp_path, VALID.replace('role = "admin"', 'role = "admin"\nrank = 3'))
    assert message == f"{tmp_path}/tocsin.toml: members[0].rank: unknown key"


def test_unknown_border_suggests_the_near_one(tmp_path: Path) -> None:
    text = VALID.replace('borders = ["franco-italienne"]', 'borders = ["franco-italiene"]')
    assert problem(tmp_path, text) == (
        f'{tmp_path}/tocsin.toml: channels[0].borders: unknown border "franco-italiene" '
        '(did you mean "franco-italienne"?)'
    )


def test_unknown_theme(tmp_path: Path) -> None:
    text = VALID.replace(
        'borders = ["franco-italienne"]', 'borders = ["franco-italienne"]\nthemes = ["mineur"]'
    )
    assert 'channels[0].themes: unknown theme "mineur" (did you mean "mineurs"?)' in problem(
        tmp_path, text
    )


def test_unknown_organisation(tmp_path: Path) -> None:
    text = VALID.replace('organisation = "anafe"\nrole', 'organisation = "cimade"\nrole')
    assert 'members[0].organisation: unknown organisation "cimade"' in problem(tmp_path, text)


def test_duplicate_ids(tmp_path: Path) -> None:
    text = VALID + '\n[[organisations]]\nid = "anafe"\nname = "Encore"\n'
    assert problem(tmp_path, text) == (
        f'{tmp_path}/tocsin.toml: organisations[1].id: duplicate id "anafe"'
    )


def test_duplicate_member(tmp_path: Path) -> None:
    text = VALID + (
        '\n[[members]]\nplatform = "telegram"\nuser = "111111"\norganisation = "anafe"\n'
    )
    assert 'members[1].user: duplicate member "111111" on telegram' in problem(tmp_path, text)


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    text = VALID.replace('role = "admin"', 'role = "boss"')
    message = problem(tmp_path, text)
    assert message.startswith(f"{tmp_path}/tocsin.toml: members[0].role: ")
    assert "'boss'" in message


def test_bad_duration(tmp_path: Path) -> None:
    text = VALID + '\n[[feeds]]\nid = "ce"\nurl = "https://example.org/rss"\nevery = "soon"\n'
    assert 'feeds[0].every: invalid duration "soon"' in problem(tmp_path, text)


def test_secrets_are_refused_in_the_file(tmp_path: Path) -> None:
    text = VALID + '\n[telegram]\ntoken = "123:abc"\n'
    message = problem(tmp_path, text)
    assert "telegram.token" in message
    assert "TOCSIN_TELEGRAM_TOKEN" in message
    assert "123:abc" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(str(tmp_path / "absent.toml"), {})


TOKEN = "123456789:AAH-some_real_looking_token_value_xyz"


@pytest.mark.parametrize(
    ("extra", "location", "kind"),
    [
        (
            f'[telegram]\nbase_url = "https://api.telegram.org/bot{TOKEN}/"\n',
            "telegram.base_url",
            "Telegram",
        ),
        (
            '[telegram]\nbase_url = "https://api.telegram.org/bot'
            + TOKEN.replace(":", "%3A")
            + '/"\n',
            "telegram.base_url",
            "Telegram",
        ),
        (
            f'[[feeds]]\nid = "ce"\nurl = "https://example.org/rss?k={TOKEN}"\n',
            "feeds[0].url",
            "Telegram",
        ),
        (
            '[matrix]\nhomeserver = "https://m.org"\nuser_id = "@b:m.org"\n'
            'device_id = "syt_' 'Ym90_AbCdEfGhIjKlMnOpQrSt_0a1b2c"\n',  # invented, split
            "matrix.device_id",
            "Matrix",
        ),
    ],
)
def test_a_token_anywhere_in_the_file_is_refused(
    tmp_path: Path, extra: str, location: str, kind: str
) -> None:
    message = problem(tmp_path, VALID + "\n" + extra)
    assert f"tocsin.toml: {location}: looks like a {kind}" in message
    assert "never from the file" in message
    assert "\n" not in message
    assert TOKEN.split(":")[1] not in message
    assert "AbCdEfGhIjKlMnOpQrSt" not in message
