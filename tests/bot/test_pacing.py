"""The pacer keeps to Telegram's and Slack's rates."""

from __future__ import annotations

import itertools

from bot.pacing import Limits, Pacer, telegram_group, with_telegram_rate


def _most_in_any_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1) for start in times)


def test_telegram_bot_wide_at_most_thirty_in_any_second() -> None:
    pacer = Pacer()
    times = [pacer.reserve("telegram", str(chat), 0.0) for chat in range(300)]
    assert times == sorted(times)
    assert _most_in_any_second(times) == 30
    assert 10 < times[-1] < 10.5  # 300 messages in a little over ten seconds


def test_one_a_second_per_chat_and_twenty_a_minute_per_group() -> None:
    pacer = Pacer()
    person = [pacer.reserve("telegram", "42", 0.0) for _ in range(3)]
    group = [pacer.reserve("telegram", "-1001", 0.0) for _ in range(3)]
    assert all(b - a >= 1 for a, b in itertools.pairwise(person))
    assert all(b - a >= 3 for a, b in itertools.pairwise(group))
    assert telegram_group("-1001") and not telegram_group("42")


def test_earliest_peeks_and_budget_counts_free_slots() -> None:
    pacer = Pacer()
    assert pacer.budget("telegram", 0.0, 1.0) == 30
    assert pacer.earliest("telegram", "1", 0.0) == pacer.earliest("telegram", "1", 0.0) == 0.0
    for chat in range(10):
        pacer.reserve("telegram", str(chat), 0.0)
    assert pacer.budget("telegram", 0.0, 1.0) == 20
    assert pacer.earliest("telegram", "1", 0.0) > 1  # that chat's next message
    assert pacer.budget("slack", 0.0, 1.0) is None  # no bot-wide limit
    assert pacer.budget("console", 0.0, 1.0) is None
    for chat in range(10, 40):  # 30 more: 20 fill the first second, 10 the next
        pacer.reserve("telegram", str(chat), 0.0)
    assert pacer.budget("telegram", 0.0, 1.0) == 0
    assert pacer.budget("telegram", 1.0, 1.0) == 19  # 29 slots in (1, 2], 10 of them taken
    raised = Pacer(with_telegram_rate(100_000))  # a minute is millions of slots
    raised.reserve("telegram", "1", 0.0)
    assert 5_879_000 < (raised.budget("telegram", 0.0, 60.0) or 0) < 5_881_000


def test_slack_one_a_second_per_channel_any_number_of_channels() -> None:
    pacer = Pacer()
    channels = [pacer.reserve("slack", f"C{n}", 5.0) for n in range(50)]
    assert channels == [5.0] * 50
    same = [pacer.reserve("slack", "C1", 5.0) for _ in range(2)]
    assert same[0] >= 6 and same[1] - same[0] >= 1


def test_a_429_holds_the_chat() -> None:
    pacer = Pacer(limits={"test": Limits()})
    assert pacer.reserve("test", "1", 0.0) == 0.0
    pacer.hold("test", "1", 30.0)
    assert pacer.reserve("test", "1", 1.0) == 30.0
    assert pacer.reserve("test", "2", 1.0) == 1.0
