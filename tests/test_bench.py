"""`livecart bench`: the suites' figures as one table; the burst end to end against `serve`."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError

from benchmarks.figures import Figure, Target, table
from benchmarks.ingest import RUN_ORDER
from benchmarks.ingest import Result as IngestResult
from benchmarks.ingest import _combined as combined_runs
from bot.cli import bench
from bot.cli.errors import CommandError
from tests.cli import clean_env, livecart
from tests.conftest import REDIS_URL, service_unavailable

CHECKOUT = Path(__file__).resolve().parents[1]


def cells(output: str) -> dict[tuple[str, str], list[str]]:
    """The table's rows by (suite, figure): value, baseline, ratio, target, met."""
    rows: dict[tuple[str, str], list[str]] = {}
    for line in output.splitlines():
        if line.startswith("| ") and not line.startswith(("| suite ", "|---")):
            suite, figure, *rest = (cell.strip() for cell in line.strip("|").split("|"))
            rows[(suite, figure)] = rest
    return rows


def require_redis() -> None:
    try:
        with Redis.from_url(REDIS_URL, socket_timeout=2) as redis:
            redis.ping()
    except RedisError as error:
        service_unavailable("Redis", str(error))


def quick_bench(suite: str, timeout: float) -> str:
    """`livecart bench --quick` of one suite, with Redis; its output, once it succeeded."""
    require_redis()
    # In the checkout's folder, as the README says: the command finds `benchmarks/` there,
    # whether livecart was installed from it editable or not.
    result = livecart(
        "bench", "--quick", "--only", suite, "--redis", REDIS_URL,
        env=clean_env(), cwd=CHECKOUT, timeout=timeout,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout
    return result.stdout


def test_the_quick_burst_sells_every_unit_once_and_decides_every_comment() -> None:
    output = quick_bench("burst", timeout=150)
    assert re.search(r"^Machine: \d+ cores, \d+ GiB RAM, .*Python 3", output, re.M)
    rows = cells(output)
    for backend in ("sqlite", "redis"):
        suite = f"burst ({backend})"
        assert rows[(suite, "oversell (units)")][0] == "0"
        assert rows[(suite, "F1 units held by buyers")][:2] == ["5", "5 (stock)"]
        assert rows[(suite, "burst comments decided")][:2] == ["400", "400 (sent)"]
        assert rows[(suite, "delivery errors (non-200)")][0] == "0"
        assert (suite, "ack p99") in rows
        assert (suite, "last decision after the burst") in rows
    assert {suite for suite, _ in rows} == {"burst (sqlite)", "burst (redis)"}


def test_the_quick_ingest_keeps_every_delivery_it_answered() -> None:
    rows = cells(quick_bench("ingest", timeout=120))
    for backend in ("sqlite", "redis"):
        assert rows[("ingest", f"{backend} errors")][0] == "0"
        assert rows[("ingest", f"{backend} answered 200 minus queued")][0] == "0"
        assert float(rows[("ingest", f"{backend} deliveries/s")][0].replace(",", "")) > 0


def test_an_unknown_suite_is_refused_in_one_line(tmp_path: Path) -> None:
    result = livecart("bench", "--only", "parse,speed", env=clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown suite speed: choose from parse, ingest, pipeline, replies, burst" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_without_a_checkout_the_command_says_where_to_run_it(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="runs from a source checkout") as refused:
        bench.find_benchmarks([tmp_path, tmp_path / "elsewhere"])
    assert refused.value.exit_code == 2


def test_the_table_puts_each_figure_beside_its_baseline_and_target() -> None:
    figures = [
        Figure("burst", "ack p99", 80.0, "ms", 8.0, "calm", Target("<=", 100)),
        Figure("ingest", "sqlite deliveries/s", 3000.0, baseline=6000.0, baseline_name="ceiling",
               target=Target(">=", 0.75, of_ratio=True)),
        Figure("burst", "last decision after the burst", math.inf, "s", 0.5, "calm",
               Target("<=", 15)),
        Figure("burst", "oversell (units)", 0, target=Target("<=", 0)),
    ]  # fmt: skip
    assert table(figures).splitlines() == [
        "| suite | figure | value | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
        "| burst | ack p99 | 80 ms | 8 ms (calm) | 10.00x | <= 100 ms | yes |",
        "| ingest | sqlite deliveries/s | 3,000 | 6,000 (ceiling) | 0.50x | >= 0.75x | **no** |",
        "| burst | last decision after the burst | n/a | 0.50 s (calm) |  | <= 15 s | **no** |",
        "| burst | oversell (units) | 0 |  |  | <= 0 | yes |",
    ]


def test_equality_targets_and_missing_baselines() -> None:
    assert Target("==", 50).met(50, None) is True
    assert Target("==", 50).met(49, None) is False
    assert Target(">=", 0.95, of_ratio=True).met(100, None) is None
    assert Figure("s", "f", 1.0, baseline=0.0).ratio is None


def test_the_pipeline_benchmark_runs_livecarts_workers_to_the_last_comment() -> None:
    # The suite itself refuses a run that leaves any comment unprocessed.
    rows = cells(quick_bench("pipeline", timeout=300))
    assert set(rows) == {
        ("pipeline", "sql stock, sqlite record: batched comments/s"),
        ("pipeline", "redis stock, sqlite record: batched comments/s"),
        ("pipeline", "sql stock, sqlite record: livecart CPU per comment"),
        ("pipeline", "redis stock, sqlite record: livecart CPU per comment"),
    }
    for values in rows.values():
        assert float(values[0].replace(",", "").removesuffix(" us")) > 0


def test_ingest_modes_run_in_a_symmetric_order_and_combine_as_medians() -> None:
    # Symmetric: a machine that speeds up or slows down through the run moves both alike.
    assert tuple(reversed(RUN_ORDER)) == RUN_ORDER
    assert RUN_ORDER.count("ceiling") == RUN_ORDER.count("livecart") == 4
    runs = [
        IngestResult("sqlite", "livecart", 100.0, 1.0, 5.0, 0, 0),
        IngestResult("sqlite", "livecart", 900.0, 3.0, 9.0, 2, -1),
        IngestResult("sqlite", "livecart", 300.0, 2.0, 6.0, 0, 0),
    ]
    assert combined_runs(runs) == IngestResult("sqlite", "livecart", 300.0, 2.0, 9.0, 2, -1)
