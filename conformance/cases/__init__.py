"""Conformance cases, one module per channel. Each case carries its requirement IDs as markers."""
