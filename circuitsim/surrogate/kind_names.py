"""The names of the surrogate kinds: the one list the registry
(:mod:`circuitsim.surrogate.kinds`) and the command line (choices, cheap to import) share."""

from __future__ import annotations

from typing import Literal, get_args

KindName = Literal["mac", "update", "adc"]
KIND_NAMES: tuple[KindName, ...] = get_args(KindName)
