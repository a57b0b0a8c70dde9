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
    """P and Q feature columns ``(6, B * L)`` of one deck for ``basis`` (foot-scaled with the
    basis' physics)."""
    a, b = losses(g, sur.r_row, sur.r_col, basis)
    mons = g * monomials(a, b)
    f, h = sur.drive(x)
    phys = sur.with_form(basis)
    s_fwd, s_bwd = phys.tile_model(g)[4:]
    if direction == "forward":
        xp = np.einsum("bn,knm->kbm", f, mons) * s_fwd
        xq = np.einsum("bn,knm->kbm", h, mons) * s_fwd if h is not None else np.zeros_like(xp)
    else:
        xp = np.einsum("bm,knm->kbn", f, mons) * s_bwd
        xq = np.einsum("bm,knm->kbn", h, mons) * s_bwd if h is not None else np.zeros_like(xp)
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


def fit(ds: cm.MacDataset) -> MacSurrogate:
    """Fit the MAC surrogate: compare the forms of FORMS by two-fold cross-validation over the
    dataset's matrices (fold = parity of pattern index + tile index; forward and backward reads
    of a matrix stay together), keep the lowest worst-group RMS % FS, refit it on all decks."""
    spec = ds.spec()
    base = physics(spec, spec_json=ds.spec_json, ngspice_version=ds.ngspice_version)
    nonlinear = base.iv == "sinh"
    decks, groups, fs = _decks(ds, base)
    folds = [[dk for dk in decks if dk.fold == f] for f in (0, 1)]
    both = all(folds)
    table: dict[str, tuple[float, float, float]] = {}
    table["ideal"] = _scores(decks, [dk.ideal for dk in decks], len(groups), fs)[:3]
    for form in FORMS:
        basis = form.removesuffix("_ls")
        if not form.endswith("_ls"):
            p, q = (np.array(c) for c in PHYSICS[basis])
            preds = [_predict(dk, basis, p, q) for dk in decks]
            table[form] = _scores(decks, preds, len(groups), fs)[:3]
            continue
        if not both:  # one fold only: in-sample score (reported as such in info)
            p, q = _lstsq(decks, basis, fs, nonlinear)
            preds = [_predict(dk, basis, p, q) for dk in decks]
        else:
            preds_by = {}
            for f in (0, 1):
                p, q = _lstsq(folds[1 - f], basis, fs, nonlinear)
                for dk in folds[f]:
                    preds_by[id(dk)] = _predict(dk, basis, p, q)
            preds = [preds_by[id(dk)] for dk in decks]
        table[form] = _scores(decks, preds, len(groups), fs)[:3]
    best = min(FORMS, key=lambda f: (round(table[f][0], 6), table[f][1]))
    basis = best.removesuffix("_ls")
    if best.endswith("_ls"):
        p, q = _lstsq(decks, basis, fs, nonlinear)
    else:
        p, q = (np.array(c) for c in PHYSICS[basis])
    fit_rms = _scores(decks, [_predict(dk, basis, p, q) for dk in decks], len(groups), fs)[0]
    names = list(table)
    return replace(base.with_form(best, p, q), fit_rms=fit_rms,
                   model_names=np.array(names),
                   cv_rms_worst=np.array([table[n][0] for n in names]),
                   cv_rms_mean=np.array([table[n][1] for n in names]),
                   cv_max=np.array([table[n][2] for n in names]))


# ---------------------------------------------------------------- validation
