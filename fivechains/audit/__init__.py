"""The regulator's audit of both chains, from what they publish (see :func:`run_audit`)."""

from .run import AuditRequest, run_audit

__all__ = ["AuditRequest", "run_audit"]
