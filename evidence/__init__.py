"""Evidence formats shared by every chain and by the court: canonical JSON, record digests, and the
public entry encodings one chain writes and another reads."""
