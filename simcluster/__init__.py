"""A simulated Kubernetes cluster that speaks the real REST API over HTTP.

It imports nothing of the product: it stands in for a real cluster in tests, the demo and
the benchmarks.
"""
