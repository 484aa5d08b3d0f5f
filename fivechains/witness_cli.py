"""`fivechains witness …`: a consortium member's witness (C2SP tlog-witness add-checkpoint)."""

from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from service_kit.body_limit import BodyLimit

from .output import console, fail

MAX_BODY = 1 << 20  # an add-checkpoint body: a checkpoint and a log-size proof, a few KiB

witness_app = typer.Typer(help="Witness the chains: cosign only append-only growth (C2SP tlog-witness).", no_args_is_help=True)


def create_witness_app(witness) -> FastAPI:  # type: ignore[no-untyped-def]
    """The witness over HTTP; bodies over MAX_BODY are refused (problem+json 413) before more is read."""
    app = FastAPI(title="Five Chains witness (C2SP tlog-witness)", version="1.0")
    app.add_middleware(BodyLimit, limit=MAX_BODY)

    @app.post("/add-checkpoint", summary="Submit a checkpoint with a consistency proof; get a cosignature")
    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # BodyLimit cut the body (its 413 is already out) or the client left: nothing to answer
            return Response(status_code=400)
        answer = witness.add_checkpoint(body)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    @app.get("/{origin_hash}/checkpoint", summary="The latest cosigned checkpoint of a log")
    def latest(origin_hash: str) -> Response:
        answer = witness.latest(origin_hash)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    return app


@witness_app.command("serve")
def serve(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The witness's key (witness.key, 0600) and state (SQLite).")],
    name: Annotated[str, typer.Option("--name", help="The witness's name, e.g. witness.procuratorate.gz.")],
    log: Annotated[list[str], typer.Option("--log", help="Verifier key of a log to witness (repeat for each).")],
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8700,
    key_type: Annotated[str, typer.Option("--type", help="A new witness key's type: ed25519 or sm2 (an existing witness.key keeps its own).")] = "ed25519",
) -> None:
    """Serve add-checkpoint; prints the witness's verifier key (give it to the logs and clients)."""
    import uvicorn

    from chain.errors import ChainError
    from chain.keys import generate_keypair, load_private_key
    from chain.note import cosignature_signer, format_vkey, parse_vkey
    from chain.witness import Witness
    from chain_sql import open_store
    from chain_sql.witness_state import SQLWitnessState

    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "witness.key"
    try:
        if not key_file.exists():
            generate_keypair(key_file, key_type.lower())
        signer = cosignature_signer(name, load_private_key(key_file))
    except ChainError as exc:
        raise fail(str(exc)) from None
    try:
        logs = [parse_vkey(v) for v in log]
    except ValueError as exc:
        raise fail(str(exc)) from None
    store = open_store(data_dir / "witness.db")
    witness = Witness(SQLWitnessState(store.engine), signer, logs)  # type: ignore[arg-type]
    console.print(f"witness [bold]{name}[/] on http://127.0.0.1:{port}  verifier key: {format_vkey(signer.verifier())}")
    uvicorn.run(create_witness_app(witness), host="127.0.0.1", port=port, log_level="warning")
