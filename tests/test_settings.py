from datetime import timedelta

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_follow_the_contract() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite+aiosqlite:///livecart.db"
    assert settings.redis_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.meta_graph_url == "https://graph.facebook.com"
    assert settings.meta_graph_version == "v25.0"
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.replay_window == timedelta(hours=24)
    assert settings.hold_for == timedelta(hours=24)
    assert settings.staff_token is None and settings.livecart_secret is None
    assert settings.reply_limit_instagram_posts == 750  # Meta's post and reel limit
    assert (
        Settings.from_env({"REPLY_LIMIT_INSTAGRAM_POSTS": "600"}).reply_limit_instagram_posts == 600
    )


def test_public_url_defaults_to_host_and_port() -> None:
    settings = Settings.from_env({"HOST": "0.0.0.0", "PORT": "9000"})
    assert settings.public_url == "http://0.0.0.0:9000"
    assert Settings.from_env({"PUBLIC_URL": "https://shop.example/"}).public_url == (
        "https://shop.example"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("2h", timedelta(hours=2)),
        ("24h", timedelta(hours=24)),
        ("1h30m", timedelta(minutes=90)),
        ("7d", timedelta(days=7)),
    ],
)
def test_durations(raw: str, expected: timedelta) -> None:
    assert Settings.from_env({"REPLAY_WINDOW": raw}).replay_window == expected


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("postgres://u@db/shop", "postgresql+asyncpg://u@db/shop"),
        ("postgresql://u@db/shop", "postgresql+asyncpg://u@db/shop"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql+asyncpg://u@db/shop", "postgresql+asyncpg://u@db/shop"),
    ],
)
def test_database_urls_are_normalized_to_async_drivers(raw: str, normalized: str) -> None:
    assert Settings.from_env({"DATABASE_URL": raw}).database_url == normalized


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "nonsense"),
        ("DATABASE_URL", "mysql://root@localhost/shop"),
        ("DATABASE_URL", "postgresql://u@db"),
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PORT", "²"),
        ("LOW_STOCK_AT", "²"),
        ("LOW_STOCK_AT", "9" * 40),
        ("REPLY_LIMIT_INSTAGRAM_POSTS", "0"),
        ("REPLY_LIMIT_INSTAGRAM_POSTS", "7.5"),
        ("REPLAY_WINDOW", "soon"),
        ("REPLAY_WINDOW", "99999999999999d"),
        ("HOLD_FOR", "366d"),
        ("HOLD_FOR", "0s"),
        ("REDIS_URL", "http://localhost"),
        ("PUBLIC_URL", "shop.example"),
        ("META_GRAPH_VERSION", "25"),
        ("TELEGRAM_STAFF_CHATS", "alice,bob"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)


def test_secrets_never_show_in_repr_or_errors() -> None:
    settings = Settings.from_env(
        {
            "STAFF_TOKEN": "staff-s3cret",
            "META_APP_SECRET": "app-s3cret",
            "REDIS_URL": "redis://:pw-s3cret@localhost:6379/0",
        }
    )
    assert "s3cret" not in repr(settings)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"REDIS_URL": "http://:pw-s3cret@localhost"})
    assert "s3cret" not in str(caught.value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DATABASE_URL": "mysql://root:pw-s3cret@localhost/x"})
    assert "s3cret" not in str(caught.value)


def test_staff_chats_are_ids() -> None:
    settings = Settings.from_env({"TELEGRAM_STAFF_CHATS": "123, -100456"})
    assert settings.telegram_staff_chats == (123, -100456)
