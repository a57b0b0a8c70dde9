"""Spec plumbing: typed parsing, nested overrides, round trips, safe names and numbers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuitsim import spec as specs
from circuitsim.errors import NetlistError, SpecError
from circuitsim.netlist import elements as el
from circuitsim.netlist.crossbar import CrossbarSpec
from circuitsim.netlist.fmt import name, num
from circuitsim.netlist.tb_mac import MacTestbenchSpec
from circuitsim.spec import build, param


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 64), cols=st.integers(1, 64),
       g_min=st.floats(1e-9, 1e-5), ratio=st.floats(1.01, 1e3),
       r=st.floats(0, 100), cell=st.sampled_from(["1R", "1T1R"]), diff=st.booleans())
def test_crossbar_spec_round_trip(rows, cols, g_min, ratio, r, cell, diff):
    s = CrossbarSpec(rows=rows, cols=cols, g_min=g_min, g_max=g_min * ratio, r_row=r, cell=cell,
                     differential=diff)
    assert specs.from_mapping(CrossbarSpec, specs.to_mapping(s)) == s


@settings(max_examples=40, deadline=None)
@given(x=st.lists(st.floats(-1, 1), min_size=3, max_size=3),
       enc=st.sampled_from(["amplitude", "pulse_width"]),
       gain=st.none() | st.floats(10, 1e9))
def test_nested_testbench_round_trip(x, enc, gain):
    s = MacTestbenchSpec(crossbar=CrossbarSpec(rows=3, cols=2), inputs=(tuple(x),), encoding=enc,
                         opamp_gain=gain)
    assert specs.from_mapping(MacTestbenchSpec, specs.to_mapping(s)) == s


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_format_round_trips_to_12_digits(x):
    text = num(x)
    assert " " not in text and "\n" not in text
    assert float(text) == pytest.approx(x, rel=1e-11, abs=0)


@given(st.text())
def test_names_never_carry_deck_syntax(text):
    try:
        ok = name(text)
    except NetlistError:
        return
    assert ok.isascii() and ok.replace("_", "").isalnum() and ok[0].isalpha()


@pytest.mark.parametrize("bad", ["a b", "x\n.control", "n;shell", "", "1abc", "a.b", "v(x)"])
def test_bad_node_names_rejected(bad):
    with pytest.raises(NetlistError):
        el.resistor("R1", bad, "0", 1e3)


def test_build_with_dotted_overrides_and_types():
    s = specs.build(MacTestbenchSpec, {"crossbar": {"rows": 2}},
                    ["crossbar.cols=3", "opamp_gain=1e4", "inputs=[[0.5, -0.25]]", "v_read=0.1"])
    assert s.crossbar.rows == 2 and s.crossbar.cols == 3
    assert s.opamp_gain == 1e4 and s.inputs == ((0.5, -0.25),) and s.v_read == 0.1
    assert specs.build(MacTestbenchSpec, {}, ["opamp_gain=none"]).opamp_gain is None


@pytest.mark.parametrize("assignment, needle", [
    ("rows=2.5", "rows"), ("differential=maybe", "differential"), ("cell=2R", "cell"),
    ("iv_v0=nan", "iv_v0"), ("nokey=1", "nokey"), ("rows", "key=value"),
])
def test_bad_overrides_name_the_field(assignment, needle):
    with pytest.raises(SpecError, match=needle):
        specs.build(CrossbarSpec, {}, [assignment])



@dataclass(frozen=True, slots=True)
class _Inner:
    a: float = param(1.0, "a")
    b: float = param(2.0, "b")


@dataclass(frozen=True, slots=True)
class _Outer:
    inner: _Inner = param(_Inner(a=5.0), "inner with a non-class default")


def test_partial_nested_override_keeps_the_parents_default():
    assert build(_Outer, {}, ["inner.b=3"]).inner == _Inner(a=5.0, b=3.0)
    assert build(_Outer, {"inner": {"b": 4}}).inner == _Inner(a=5.0, b=4.0)
