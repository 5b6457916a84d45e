"""Speed and memory of the suite, measured against the bare floor (see README.md here)."""
