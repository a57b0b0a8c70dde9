"""The training spec (one frozen spec per run, ``circuitsim train --set key=value``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from circuitsim.spec import check_types, non_negative, param, positive, require
from circuitsim.train.ambrogio import AmbrogioSpec
from circuitsim.train.ledger_spec import LedgerSpec
from circuitsim.train.mlp import SbpSpec
from circuitsim.train.periphery import PeripherySpec
from circuitsim.train.rpu import RpuSpec

RULES = ("float", "ambrogio", "pcm", "sbp", "pulse")
#: Hidden width of each data set's reference network (0 in the spec selects it).
HIDDEN = {"digits": 32, "mnist": 250, "fashion-mnist": 250, "mnist1d": 100, "mnist1d-seq": 32,
          "text": 64}
#: Images between 2PCM+3T1C transfers of each data set (0 in the spec selects it): the paper
#: transfers every ~8,000 MNIST images; the small sets keep the same number of transfers per
#: epoch within a factor of a few [ours].
TRANSFER_EVERY = {"digits": 200, "mnist": 8000, "fashion-mnist": 8000, "mnist1d": 200,
                  "mnist1d-seq": 200, "text": 200}
#: 2PCM+3T1C weight scale of each data set's reference network (S per weight unit): the PCM
#: pair spans +-F g_max / w_scale weight units and a 3T1C pulse ~0.4-1 uS / w_scale. The float
#: MNIST-1D MLP needs weights up to ~5 (digits: ~3), so it trades resolution for range [ours].
W_SCALE = {"digits": 40e-6, "mnist": 40e-6, "fashion-mnist": 40e-6, "mnist1d": 20e-6,
           "mnist1d-seq": 40e-6, "text": 40e-6}


#: Widest hidden layer (a 784 x 16384 float64 matrix is 100 MB; the papers use <= 250).
MAX_WIDTH = 16384
#: Most epochs one run may ask for (the papers train 20-100).
MAX_EPOCHS = 10000


@dataclass(frozen=True, slots=True)
class TrainSpec:
    """What to train, with which rule, periphery and surrogates."""

    dataset: Literal["digits", "mnist", "fashion-mnist", "mnist1d", "mnist1d-seq", "text"] = param(
        "digits", "data set (mnist needs data_path: a directory of IDX files)")
    data_path: str = param("", "IDX directory (mnist, fashion-mnist) or a UTF-8 text file "
                               "(text)")
    model: Literal["mlp", "lstm"] = param("mlp", "network: MLP (vector data) or LSTM "
                                                 "(sequences, text)")
    hidden: int = param(0, "hidden units (0: the data set's reference network)")
    layers: tuple[int, ...] = param((), "hidden widths of a deeper MLP, e.g. [250, 125], or "
                                        "of stacked LSTM layers, e.g. [64, 64] (empty: one "
                                        "hidden layer of `hidden` units)")
    rule: Literal["float", "ambrogio", "pcm", "sbp", "pulse"] = param(
        "ambrogio", "weight realisation and update rule")
    epochs: int = param(20, "passes over the training set")
    lr: float = param(0.1, "learning rate")
    lr_decay: float = param(1.0, "learning-rate factor applied after every epoch")
    batch: int = param(1, "images per SGD step (1 = per-image updates, as in the papers)")
    seed: int = param(0, "seed of the initial weights, cells, devices, order and noise")
    activation: Literal["sigmoid", "tanh"] = param("sigmoid", "hidden activation (MLP)")
    act_bits: int = param(4, "hidden activations from the ramp-ADC surrogate at this many "
                             "bits (0: float activations; analog rules only)")
    comparator: Literal["continuous", "strongarm"] = param(
        "continuous", "comparator of the ramp ADCs (activations; the ledger prices every "
        "conversion with it): continuous (static bias) or strongarm (clocked latch)")
    comparator_technology: Literal["ptm45", "sky130"] = param(
        "ptm45", "transistors of the ramp-ADC comparators: ptm45 (embedded) or sky130 (their "
        "1.8 V SkyWater preset)")
    comparator_corner: Literal["tt", "ff", "ss", "fs", "sf"] = param(
        "tt", "process corner of the sky130 comparators")
    engine: Literal["numba", "numpy"] = param(
        "numba", "training hot path: compiled kernels, or the plain numpy reference")
    exact_read: bool = param(False, "MAC reads with the sinh slope term (two matrix products)")
    quick: bool = param(True, "use the QUICK characterization presets for the surrogates")
    spot_every: int = param(0, "run SPICE spot-checks every this many steps (0: never)")
    max_train: int = param(0, "use at most this many training samples (0: all)")
    binary_inputs: bool = param(False, "threshold the inputs at 0.5 to 0/1 (vector data; SBP "
                                       "always does)")
    periphery: PeripherySpec = param(PeripherySpec(), "DAC/ADC of the analog arrays")
    ambrogio: AmbrogioSpec = param(AmbrogioSpec(), "2PCM+3T1C (rules ambrogio, pcm)")
    rpu: RpuSpec = param(RpuSpec(), "pulse device (rules pulse, sbp)")
    sbp: SbpSpec = param(SbpSpec(), "sign-backprop thresholds (rule sbp)")
    ledger: LedgerSpec = param(LedgerSpec(), "energy and latency ledger: the estimates of "
                                             "what SPICE does not simulate")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "epochs", "lr", "batch", "lr_decay")
        non_negative(self, "hidden", "spot_every", "max_train")
        require(all(1 <= n <= MAX_WIDTH for n in self.layers), "layers", self.layers,
                f"every hidden width must be in 1..{MAX_WIDTH}")
        require(self.hidden <= MAX_WIDTH, "hidden", self.hidden, f"must be <= {MAX_WIDTH}")
        require(0 <= self.seed < 2**32, "seed", self.seed, "must be in 0..2**32-1")
        require(self.epochs <= MAX_EPOCHS, "epochs", self.epochs,
                f"must be <= {MAX_EPOCHS} (an epoch of the largest data set takes minutes)")
        require(self.model == "mlp" or len(set(self.layers)) <= 1, "layers", self.layers,
                "a stacked LSTM's layers must have equal widths")
        require(self.act_bits in (0, 3, 4, 5, 8), "act_bits", self.act_bits,
                "must be 0 (float) or one of the ramp-ADC resolutions 3, 4, 5, 8")
        require(self.comparator_corner == "tt" or self.comparator_technology == "sky130",
                "comparator_corner", self.comparator_corner,
                "corners other than tt need comparator_technology=sky130")
        lstm = self.dataset in ("mnist1d-seq", "text")
        require(lstm == (self.model == "lstm"), "model", self.model,
                f"dataset {self.dataset!r} needs model={'lstm' if lstm else 'mlp'!r}")
        require(self.dataset != "mnist" or bool(self.data_path), "data_path", self.data_path,
                "dataset 'mnist' needs a directory of IDX files")

    @property
    def analog(self) -> bool:
        return self.rule != "float"

    @property
    def ambrogio_spec(self) -> AmbrogioSpec:
        """``ambrogio`` with ``w_scale`` 0 resolved to the data set's reference."""
        a = self.ambrogio
        if not a.w_scale:
            a = replace(a, w_scale=W_SCALE[self.dataset])
        if not a.transfer_every:
            a = replace(a, transfer_every=TRANSFER_EVERY[self.dataset])
        return a

    @property
    def width(self) -> int:
        return self.hidden or HIDDEN[self.dataset]

    @property
    def widths(self) -> tuple[int, ...]:
        """Hidden widths of the MLP, input side first."""
        return self.layers or (self.width,)
