"""The rounds' bookkeeping: which round's bundle improve recommends, and how the table shows it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from wm_planner.improve import ImproveSettings, Round, best_round, round_table


def _round(index: int, success: float) -> Round:
    return Round(index, f"round_{index}/bundle", None, [], 100, 100 * (index + 1), success, None)


def test_the_best_round_has_the_best_held_out_success_and_is_the_latest_of_equals() -> None:
    rounds = [_round(0, 1.0), _round(1, 1.0), _round(2, 0.95), _round(3, 0.95)]
    assert best_round(rounds).index == 1
    assert best_round([_round(0, 0.0), _round(1, 0.5), _round(2, 0.5)]).index == 2
    table = round_table(rounds).splitlines()
    assert table[3].startswith("| 1 (best) | 100% |") and "(best)" not in "".join(table[2:3] + table[4:])


def test_the_table_shows_how_wrong_the_last_model_was_where_its_planner_went() -> None:
    seen = {"k": 16, "blocks": {"ee_pos_m": {"median": 0.004, "p90": 0.0152}}, "object_error_moving": 0.0103}
    rounds = [_round(0, 1.0), replace(_round(1, 1.0), foresight=seen)]
    table = round_table(rounds).splitlines()
    assert "| n/a |" in table[2] and "| objects 1.03 cm moving, tip p90 1.52 cm |" in table[3]


def test_an_own_share_outside_zero_to_one_names_the_option() -> None:
    with pytest.raises(ValueError, match="own_share"):
        ImproveSettings(own_share=1.0)
