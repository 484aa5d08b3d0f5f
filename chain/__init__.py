"""Five Chains ledger core: a pure library for verifiable, block-framed append-only logs.

Nothing here serves HTTP or gRPC; the supervision and judicial chains build on it.
"""
