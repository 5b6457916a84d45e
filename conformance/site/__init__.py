"""Fixture web content: probe pages (static files in ``pages/``) and generated downloads."""
