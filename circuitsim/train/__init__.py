"""Training of analog in-memory networks: datasets, device models, weights, loops."""
