"""The `fivechains` command: one verb group per role, over the chain packages."""
