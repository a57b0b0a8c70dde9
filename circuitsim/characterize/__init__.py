"""Characterization: SPICE sweeps of the three phases turned into datasets on disk.

One module per phase (:mod:`~circuitsim.characterize.mac`, :mod:`~circuitsim.characterize.update`,
:mod:`~circuitsim.characterize.adc`), each with a frozen sweep spec (``*CharSpec``: the sweep
ranges, seeds and circuit templates), ``characterize(spec, ...)`` returning a dataset record
(``.npz`` without pickle) and plotting functions. :func:`run_points` is their common sweep call.
"""
