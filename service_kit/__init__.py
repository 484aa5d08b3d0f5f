"""The service kit every chain's HTTP service is built on: problem+json errors (``problems``), the body
limit (``body_limit``), credentials (``auth``), logs, request ids, /metrics, /livez and /readyz
(``observability``)."""
