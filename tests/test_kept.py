"""The bounded map the git adapter keeps listings, trees and objects in (promoter.kept)."""

from __future__ import annotations

import threading

from promoter.kept import Kept


def test_the_least_recently_used_go_first_past_the_count():
    kept: Kept[str, int] = Kept(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the most recently used
    kept.put("c", 3)
    assert ("a" in kept, "b" in kept, "c" in kept) == (True, False, True)
    assert len(kept) == 2 and kept.get("b") is None


def test_sizes_are_summed_replaced_and_an_oversized_value_is_not_kept():
    kept: Kept[str, bytes] = Kept(10, size=len)
    assert kept.put("a", b"xxxx") == b"xxxx"
    kept.put("b", b"yyyy")
    kept.put("a", b"zz")  # replaces: 2 + 4, not 4 + 4 + 2
    assert kept.total == 6 and len(kept) == 2
    kept.put("c", b"wwwww")  # 11 > 10: the least recently used ("b") goes
    assert (kept.get("b"), kept.get("a"), kept.get("c"), kept.total) == (None, b"zz", b"wwwww", 7)
    assert kept.put("big", b"x" * 11) == b"x" * 11 and "big" not in kept
    assert kept.total == sum(len(v) for v in (b"zz", b"wwwww"))


def test_threads_keep_the_total_true():
    kept: Kept[int, bytes] = Kept(1000, size=len)

    def work(start: int) -> None:
        for n in range(start, start + 500):
            kept.put(n % 300, b"x" * (n % 7 + 1))
            kept.get((n * 7) % 300)

    threads = [threading.Thread(target=work, args=(k * 500,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = [kept.get(n) for n in range(300)]
    assert kept.total == sum(len(v) for v in held if v is not None) <= 1000
