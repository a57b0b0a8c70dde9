"""Fidelity checks: pass/fail logic, the table, JSON round trip."""

from __future__ import annotations

import math

from circuitsim.fidelity import Check, all_passed, format_table, from_json, to_json


def test_bounds_and_status():
    assert Check("rms", 0.5, "% FS", 1.0).passed is True
    assert Check("rms", 1.5, "% FS", 1.0).passed is False
    assert Check("match", 99.5, "%", 99.0, "at_least").passed is True
    assert Check("match", 98.0, "%", 99.0, "at_least").passed is False
    assert Check("max", 3.0, "% FS").passed is None  # reported only
    assert Check("rms", math.nan, "% FS", 1.0).passed is False  # a NaN never passes
    assert all_passed([Check("a", 0.1, "", 1.0), Check("b", 5.0, "")])
    assert not all_passed([Check("a", 2.0, "", 1.0)])


def test_table_rows_keep_their_columns_and_json_round_trips():
    checks = [Check("max |INL|", 0.25, "LSB", detail="a | b"),
              Check("codes equal", 99.2, "%", 99.0, "at_least")]
    table = format_table(checks, "adc")
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert all(line.replace("\\|", "").count("|") == 6 for line in rows)
    assert "≥ 99 %" in rows[2] and "| pass |" in rows[2]
    assert from_json(to_json(checks)) == checks


def test_row_groups_open_with_a_bold_row():
    from circuitsim.surrogate.mac_validate import check_mode

    checks = [Check("mac 16x16 forward RMS error", 0.1, "% FS", 1.0),
              Check("mac pwm_int 16x16 forward RMS error", 0.2, "% FS", 1.0),
              Check("mac pwm_int energy per read error", 1.0, "%")]
    lines = format_table(checks, group=check_mode).splitlines()
    assert lines[2] == "| **dc** | | | | |" and lines[4] == "| **pwm_int** | | | | |"
    assert len(lines) == 7 and "**" not in format_table(checks)
