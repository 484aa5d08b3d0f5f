"""gRPC contracts (crosschain.proto) and the Python code generated from them by scripts/gen-proto."""
