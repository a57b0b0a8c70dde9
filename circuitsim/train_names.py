"""The names of the training data sets and weight rules: the one list the training spec, the
data loaders and the command line (choices, cheap to import) share."""

from __future__ import annotations

from typing import Literal, get_args

DatasetName = Literal["digits", "mnist", "fashion-mnist", "mnist1d", "mnist1d-seq", "text"]
DATASETS: tuple[DatasetName, ...] = get_args(DatasetName)

RuleName = Literal["float", "ambrogio", "pcm", "sbp", "pulse"]
RULES: tuple[RuleName, ...] = get_args(RuleName)
