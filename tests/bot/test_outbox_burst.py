"""The burst scenario (bench/ runs it at 10,000): a smaller burst through a Telegram that
enforces its limits, with and without a killed dispatcher."""

from __future__ import annotations

from sqlalchemy import Engine

from bot.outbox_burst import run_burst


def test_a_burst_drains_without_429s_duplicates_or_losses(engine: Engine) -> None:
    result = run_burst(engine, reminders=400, people=250)
    assert (result.delivered, result.duplicates, result.lost, result.rate_limited) == (
        400,
        0,
        0,
        0,
    )


def test_a_killed_dispatcher_loses_nothing(engine: Engine) -> None:
    result = run_burst(engine, reminders=400, people=250, spread=1, kill_after=5.01)
    assert result.in_flight_at_kill > 0
    assert result.lost == 0 and result.delivered == 400
    assert result.duplicates <= result.in_flight_at_kill
