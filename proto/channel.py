"""Client side of the cross-chain link: a mutual-TLS gRPC channel with a source chain's certificate.

Kept beside the contracts so a source chain needs nothing of the judicial chain's code.
"""

from __future__ import annotations

from pathlib import Path

import grpc

MAX_MESSAGE = 64 * 1024 * 1024


def client_stem(chain_id: str) -> str:
    """File stem of a source chain's client certificate and key in the consortium's certs directory."""
    return "client-" + "".join(c if c.isalnum() or c in "-." else "_" for c in chain_id)


def client_channel(target: str, certs_dir: Path, stem: str) -> grpc.Channel:
    """A channel that trusts only the consortium CA and presents ``stem``'s certificate."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(certs_dir / "ca.pem").read_bytes(),
        private_key=(certs_dir / f"{stem}.key").read_bytes(),
        certificate_chain=(certs_dir / f"{stem}.pem").read_bytes())
    return grpc.secure_channel(target, credentials, options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                                             ("grpc.max_send_message_length", MAX_MESSAGE),
                                                             ("grpc.ssl_target_name_override", "localhost")])
