"""Surrogates fitted from SPICE characterization, cached by content hash, validated on
held-out SPICE runs.

- :mod:`circuitsim.surrogate.kinds`: the three kinds (``mac``, ``update``, ``adc``), a typed
  registry of their classes and functions (names in ``kind_names``, plots in ``kind_plots``);
- :mod:`circuitsim.surrogate.service`: characterize → fit → cache → validate;
- :mod:`circuitsim.surrogate.cache`: the content-addressed ``.npz`` + JSON cache;
- :mod:`circuitsim.surrogate.mac` (with ``mac_layer``, ``mac_fit``, ``mac_validate``),
  :mod:`~circuitsim.surrogate.update` (with ``update_fit``, ``update_validate``),
  :mod:`~circuitsim.surrogate.activation`: the models themselves.

Their checks (:class:`circuitsim.fidelity.Check`) live below, shared with characterization.
"""
