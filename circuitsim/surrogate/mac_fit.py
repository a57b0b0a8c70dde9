"""Fitting the MAC surrogate to a SPICE dataset (:func:`fit`): the physics forms and their
least-squares corrections compared by two-fold cross-validation (see
:mod:`circuitsim.surrogate.mac`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from circuitsim.characterize import mac as cm
from circuitsim.surrogate.mac import (
    BASES,
    FORMS,
    PHYSICS,
    RIDGE,
    MacSurrogate,
    losses,
    monomials,
    physics,
)


@dataclass(frozen=True, slots=True, eq=False)
class _Deck:
    group: int
    fold: int
    y: np.ndarray  #: (S,) SPICE currents, flattened
    ideal: np.ndarray  #: (S,)
    xp: dict[str, np.ndarray]  #: basis -> (6, S) features of P (foot-scaled)
    xq: dict[str, np.ndarray]  #: basis -> (6, S) features of Q


def _features(sur: MacSurrogate, g: np.ndarray, x: np.ndarray, direction: str,
              basis: str) -> tuple[np.ndarray, np.ndarray]:
    """P and Q feature columns ``(6, B * L)`` of one deck for ``basis`` (line-scaled, and with
    the droop product, as the basis' physics reads)."""
    phys = sur.with_form(basis)
    geff = g / (1.0 + g * sur.r_acc) if sur.r_acc > 0 else g
    a, b = losses(geff, sur.r_row, sur.r_col, basis)
    mons = g * phys.cell_scale(g) * monomials(a, b)
    f, h = phys.drive(x)
    dd = phys.droop_drive(x, f)
    s_fwd, s_bwd, k_fwd, k_bwd = phys.line_scales(phys.tile_model(g)[0])
    sub, s, k = ("bn,knm->kbm", s_fwd, k_fwd) if direction == "forward" else \
        ("bm,knm->kbn", s_bwd, k_bwd)
    xp = np.einsum(sub, f, mons) * s
    if dd is not None:
        xp -= np.einsum(sub, dd, mons) * k
    xq = np.einsum(sub, h, mons) * s if h is not None else np.zeros_like(xp)
    return xp.reshape(6, -1), xq.reshape(6, -1)


def _decks(ds: cm.MacDataset, sur: MacSurrogate) -> tuple[list[_Deck], list[str], np.ndarray]:
    spec = ds.spec()
    sizes = [(n, m) for n, m, _ in spec.tile_list]
    patterns = spec.pattern_list
    groups = [f"{n}x{m} {d}" for n, m, d in ds.groups()]
    decks = []
    for k in range(len(ds.deck_rows)):
        n, m, d = int(ds.deck_rows[k]), int(ds.deck_cols[k]), str(ds.deck_direction[k])
        g = ds.deck_g(k)
        x, y, ideal = ds.deck_reads(k)
        pat = str(ds.deck_pattern[k])
        size_i = sizes.index((n, m)) if (n, m) in sizes else 0
        pat_i = patterns.index(pat) if pat in patterns else 0
        xp, xq = {}, {}
        for basis in BASES:
            xp[basis], xq[basis] = _features(sur, g, x, d, basis)
        decks.append(_Deck(groups.index(f"{n}x{m} {d}"), (pat_i + size_i) % 2, y.ravel(),
                           ideal.ravel(), xp, xq))
    fs = np.zeros(len(groups))
    for dk in decks:
        fs[dk.group] = max(fs[dk.group], float(np.max(np.abs(dk.ideal))))
    fs[fs == 0] = 1.0
    return decks, groups, fs


def _predict(dk: _Deck, basis: str, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return p @ dk.xp[basis] + q @ dk.xq[basis]


def _lstsq(decks: list[_Deck], basis: str, fs: np.ndarray, nonlinear: bool) -> tuple[
        np.ndarray, np.ndarray]:
    """Least-squares (P, Q) on the decks: residual after the physics, rows weighted 1/FS."""
    p0, q0 = (np.array(c) for c in PHYSICS[basis])
    cols, rhs = [], []
    for dk in decks:
        w = 1.0 / fs[dk.group]
        feats = [dk.xp[basis]] + ([dk.xq[basis]] if nonlinear else [])
        cols.append(np.vstack(feats).T * w)
        rhs.append((dk.y - _predict(dk, basis, p0, q0)) * w)
    a = np.vstack(cols)
    y = np.concatenate(rhs)
    norms = np.linalg.norm(a, axis=0)
    norms[norms == 0] = 1.0
    a_s = a / norms
    k = a.shape[1]
    a_aug = np.vstack([a_s, np.sqrt(RIDGE) * np.eye(k)])
    y_aug = np.concatenate([y, np.zeros(k)])
    delta = np.linalg.lstsq(a_aug, y_aug, rcond=None)[0] / norms
    p = p0 + delta[:6]
    q = q0 + (delta[6:] if nonlinear else 0.0)
    return p, q


def _scores(decks: list[_Deck], preds: list[np.ndarray], n_groups: int,
            fs: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """(worst-group RMS, mean-group RMS, max) % FS and per-group RMS."""
    sq = np.zeros(n_groups)
    cnt = np.zeros(n_groups)
    mx = 0.0
    for dk, pr in zip(decks, preds, strict=True):
        e = (pr - dk.y) / fs[dk.group]
        sq[dk.group] += float(e @ e)
        cnt[dk.group] += e.size
        mx = max(mx, float(np.max(np.abs(e))))
    rms = 100 * np.sqrt(sq / np.maximum(cnt, 1))
    present = cnt > 0
    return float(rms[present].max()), float(rms[present].mean()), 100 * mx, rms


def _compare(decks: list[_Deck], n_groups: int, fs: np.ndarray, nonlinear: bool,
             suffix: str) -> dict[str, tuple[float, float, float]]:
    """Cross-validated scores of every form of FORMS on ``decks`` (names + ``suffix``)."""
    folds = [[dk for dk in decks if dk.fold == f] for f in (0, 1)]
    table: dict[str, tuple[float, float, float]] = {}
    for form in FORMS:
        basis = form.removesuffix("_ls")
        if not form.endswith("_ls"):
            p, q = (np.array(c) for c in PHYSICS[basis])
            preds = [_predict(dk, basis, p, q) for dk in decks]
        elif not all(folds):  # one fold only: in-sample score (reported as such in info)
            p, q = _lstsq(decks, basis, fs, nonlinear)
            preds = [_predict(dk, basis, p, q) for dk in decks]
        else:
            preds_by = {}
            for f in (0, 1):
                p, q = _lstsq(folds[1 - f], basis, fs, nonlinear)
                for dk in folds[f]:
                    preds_by[id(dk)] = _predict(dk, basis, p, q)
            preds = [preds_by[id(dk)] for dk in decks]
        table[form + suffix] = _scores(decks, preds, n_groups, fs)[:3]
    return table


def _access_resistance(ds: cm.MacDataset, base: MacSurrogate) -> float:
    """The 1T1R access transistor's on-resistance (Ohm) that best explains the dataset with
    the ladder physics (a bounded scalar search on the mean group RMS)."""
    from scipy.optimize import minimize_scalar

    reads = [(ds.deck_g(k), *ds.deck_reads(k)[:2], str(ds.deck_direction[k]))
             for k in range(len(ds.deck_rows))]

    def cost(r: float) -> float:
        sur = replace(base, r_acc=float(r))
        err = [(sur.forward(g, x) if d == "forward" else sur.backward(g, x)) - y
               for g, x, y, d in reads]
        return float(np.mean([np.mean(e**2) for e in err]))

    res = minimize_scalar(cost, bounds=(0.0, 0.2 / base.g_max), method="bounded",
                          options={"xatol": 1.0})
    return float(res.x)


def _energy_scale(ds: cm.MacDataset, sur: MacSurrogate) -> float:
    """SPICE driver energy over :meth:`MacSurrogate.read_energy`, summed over the dataset."""
    phys = 0.0
    for k in range(len(ds.deck_rows)):
        x = ds.deck_reads(k)[0]
        phys += float(sur.read_energy(ds.deck_g(k), x, str(ds.deck_direction[k])).sum())
    return float(ds.energy.sum()) / phys if phys > 0 else 1.0


def fit(ds: cm.MacDataset) -> MacSurrogate:
    """Fit the MAC surrogate: compare the forms of FORMS by two-fold cross-validation over the
    dataset's matrices (fold = parity of pattern index + tile index; forward and backward reads
    of a matrix stay together), keep the lowest worst-group RMS % FS, refit it on all decks.
    A time-domain read mode compares each form with its time-domain terms (``+timed``: wire
    settling, integrator droop and gain) and without them (the DC model of the same read);
    a 1T1R array first gets its access resistance (:func:`_access_resistance`)."""
    spec = ds.spec()
    base = physics(spec, spec_json=ds.spec_json, ngspice_version=ds.ngspice_version)
    if spec.circuit.cell == "1T1R":
        base = replace(base, r_acc=_access_resistance(ds, base))
    nonlinear = base.iv == "sinh"
    variants = [(1, "+timed"), (0, "")] if base.timed else [(0, "")]
    table: dict[str, tuple[float, float, float]] = {}
    prepared = {}
    for timed, suffix in variants:
        sur_t = replace(base, timed=timed)
        decks, groups, fs = _decks(ds, sur_t)
        prepared[suffix] = (sur_t, decks, groups, fs)
        if not table:
            table["ideal"] = _scores(decks, [dk.ideal for dk in decks], len(groups), fs)[:3]
        table.update(_compare(decks, len(groups), fs, nonlinear, suffix))
    names = list(table)
    best = min(names[1:], key=lambda f: (round(table[f][0], 6), table[f][1]))
    suffix = "+timed" if best.endswith("+timed") else ""
    form = best.removesuffix("+timed")
    sur_t, decks, groups, fs = prepared[suffix]
    basis = form.removesuffix("_ls")
    if form.endswith("_ls"):
        p, q = _lstsq(decks, basis, fs, nonlinear)
    else:
        p, q = (np.array(c) for c in PHYSICS[basis])
    fit_rms = _scores(decks, [_predict(dk, basis, p, q) for dk in decks], len(groups), fs)[0]
    sur = sur_t.with_form(form, p, q)
    return replace(sur, fit_rms=fit_rms, energy_scale=_energy_scale(ds, sur),
                   model_names=np.array(names),
                   cv_rms_worst=np.array([table[n][0] for n in names]),
                   cv_rms_mean=np.array([table[n][1] for n in names]),
                   cv_max=np.array([table[n][2] for n in names]))


# ---------------------------------------------------------------- validation
