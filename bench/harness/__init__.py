"""Needle benchmark harness (see bench/README.md)."""
