"""The simulated API server's HTTP layer: routing, the REST verbs, watch streams, validation."""
