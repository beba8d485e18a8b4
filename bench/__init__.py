"""Benchmarks; run each as ``python -m bench.<name>``. Their outputs are not committed."""
