"""`[privacy]`: the retention is any positive duration (seconds for drills), 90 days by
default; anything else is one clear configuration error."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.loader import ConfigError, build_settings


def test_retention_defaults_to_ninety_days_and_takes_seconds() -> None:
    assert build_settings({}, "t.toml").privacy.retention == timedelta(days=90)
    drill = build_settings({"privacy": {"retention": "30s"}}, "t.toml")
    assert drill.privacy.retention == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("0s", "positive"), ("90", "invalid duration"), ("forever", "invalid duration")],
)
def test_a_bad_retention_is_one_clear_error(value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"privacy\.retention: .*{problem}"):
        build_settings({"privacy": {"retention": value}}, "t.toml")


def test_an_unknown_privacy_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="privacy"):
        build_settings({"privacy": {"retension": "30d"}}, "t.toml")
