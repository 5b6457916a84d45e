"""Conformance suite for secure browsers (セキュアブラウザ) and screen-transfer clients (画面転送)."""

__version__ = "0.1.0"
