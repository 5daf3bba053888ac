"""Small-count suppression that subtraction cannot undo.

Cells are named counts; equations say "this total is the sum of these parts" for every table
a report shows (a total and its rows, a group and its categories, the weeks and the period).
A count from 1 to threshold - 1 is hidden (primary suppression). Then, as long as some
equation has exactly one hidden cell, whose value would be its total minus the others, the
smallest other non-zero count in that equation is hidden too (complementary suppression),
until every equation hides none or at least two cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SMALL = "small"  # hidden because it is small
COMPLEMENT = "complement"  # hidden so that a small count cannot be worked out by subtraction

Equation = tuple[str, Sequence[str]]  # (total, parts)


def protect(cells: Mapping[str, int], equations: Sequence[Equation], threshold: int) -> dict[str, str]:
    """Which cells to hide, and why (SMALL or COMPLEMENT); every cell named in an equation must exist."""
    hidden = {name: SMALL for name, n in cells.items() if 0 < n < threshold}
    changed = bool(hidden)
    while changed:
        changed = False
        for total, parts in equations:
            members = [total, *parts]
            if sum(1 for m in members if m in hidden) != 1:
                continue
            # Prefer hiding a part; the total only when no other part is non-zero.
            shown = [m for m in parts if m not in hidden and cells[m] > 0]
            if not shown and total not in hidden and cells[total] > 0:
                shown = [total]
            if shown:
                hidden[min(shown, key=lambda m: (cells[m], m))] = COMPLEMENT
                changed = True
    return hidden
