from pathlib import Path

import pytest

from tests.cli import clean_env, livecart


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = livecart("--help", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "db"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("DATABASE_URL", "nonsense", ("db", "upgrade")),
        ("PORT", "abc", ("serve",)),
        ("DATABASE_URL", "nonsense", ("serve",)),
        ("HOLD_FOR", "forever", ("serve",)),
    ],
)
def test_bad_settings_stop_with_one_line(
    tmp_path: Path, variable: str, value: str, command: tuple[str, ...]
) -> None:
    result = livecart(*command, env=clean_env(**{variable: value}), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"livecart: {variable} ")
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://shop:hunter2@127.0.0.1:1/shop"
    result = livecart("db", "upgrade", env=clean_env(DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot use the database" in lines[0]
    assert "hunter2" not in result.stderr


def test_db_upgrade_creates_the_schema_then_is_a_no_op(
    tmp_path: Path, empty_database_url: str
) -> None:
    env = clean_env(DATABASE_URL=empty_database_url)
    first = livecart("db", "upgrade", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "migrated from empty to" in first.stdout
    again = livecart("db", "upgrade", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout


def test_the_default_database_is_a_sqlite_file_in_the_working_folder(tmp_path: Path) -> None:
    result = livecart("db", "upgrade", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "livecart.db").stat().st_size > 0
