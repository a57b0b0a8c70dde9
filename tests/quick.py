"""The characterization specs the suite shares per session (see ``conftest.quick``).

Each kind's QUICK preset, except that the update kind uses the cell the training rule
``ambrogio`` characterizes (:func:`circuitsim.train.loop.update_spec`: the QUICK preset with a
400 fF storage capacitor and up to 40 staircase rounds): the training and reproduction tests
need that surrogate anyway, so the suite simulates one update characterization, not two.
"""

from __future__ import annotations

from typing import Any

from circuitsim.spec import build
from circuitsim.surrogate.service import make_spec
from circuitsim.train.config import TrainSpec
from circuitsim.train.loop import update_spec


def quick_spec(kind: str) -> Any:
    if kind == "update":
        return update_spec(build(TrainSpec, {"rule": "ambrogio"}))
    return make_spec(kind, quick=True)
