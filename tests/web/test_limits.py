from __future__ import annotations

from haven.web.limits import SlidingWindow


def test_a_window_allows_its_limit_then_refuses_until_time_passes() -> None:
    window = SlidingWindow(limit=3, seconds=10)
    assert [window.allow("a", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert window.allow("b", now=3)
    assert window.allow("a", now=10.5)


def test_a_full_table_forgets_idle_keys_first() -> None:
    window = SlidingWindow(limit=1, seconds=5, max_keys=2)
    assert window.allow("a", now=0)
    assert window.allow("b", now=4)
    assert window.allow("c", now=6)  # "a" is idle and forgotten; "b" is kept
    assert not window.allow("b", now=6)
