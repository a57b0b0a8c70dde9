"""Surrogates fitted from SPICE characterization, cached by content hash, validated on
held-out SPICE runs.

- :mod:`circuitsim.surrogate.kinds`: the three kinds (``mac``, ``update``, ``adc``);
- :mod:`circuitsim.surrogate.service`: characterize → fit → cache → validate;
- :mod:`circuitsim.surrogate.cache`: the content-addressed ``.npz`` + JSON cache;
- :mod:`circuitsim.fidelity`: fidelity checks and their table;
- :mod:`circuitsim.surrogate.mac`, :mod:`~circuitsim.surrogate.update`,
  :mod:`~circuitsim.surrogate.activation`: the models themselves.
"""
