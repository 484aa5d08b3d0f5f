from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class AnchorRequest(_message.Message):
    __slots__ = ("source_chain_id", "block_header", "checkpoint", "first_index", "entries", "lender_names")
    class LenderNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SOURCE_CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HEADER_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    FIRST_INDEX_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    LENDER_NAMES_FIELD_NUMBER: _ClassVar[int]
    source_chain_id: str
    block_header: str
    checkpoint: str
    first_index: int
    entries: _containers.RepeatedScalarFieldContainer[bytes]
    lender_names: _containers.ScalarMap[str, str]
    def __init__(self, source_chain_id: _Optional[str] = ..., block_header: _Optional[str] = ..., checkpoint: _Optional[str] = ..., first_index: _Optional[int] = ..., entries: _Optional[_Iterable[bytes]] = ..., lender_names: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AnchorReceipt(_message.Message):
    __slots__ = ("source_height", "first_source_index", "first_judicial_index", "deposit_codes", "judicial_checkpoint", "replayed")
    SOURCE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SOURCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    FIRST_JUDICIAL_INDEX_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_CODES_FIELD_NUMBER: _ClassVar[int]
    JUDICIAL_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    source_height: int
    first_source_index: int
    first_judicial_index: int
    deposit_codes: _containers.RepeatedScalarFieldContainer[str]
    judicial_checkpoint: str
    replayed: bool
    def __init__(self, source_height: _Optional[int] = ..., first_source_index: _Optional[int] = ..., first_judicial_index: _Optional[int] = ..., deposit_codes: _Optional[_Iterable[str]] = ..., judicial_checkpoint: _Optional[str] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetCheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("note",)
    NOTE_FIELD_NUMBER: _ClassVar[int]
    note: str
    def __init__(self, note: _Optional[str] = ...) -> None: ...

class GetInclusionProofRequest(_message.Message):
    __slots__ = ("index", "tree_size")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("index", "tree_size", "leaf_hash", "hashes")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TREE_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEAF_HASH_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    index: int
    tree_size: int
    leaf_hash: bytes
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, index: _Optional[int] = ..., tree_size: _Optional[int] = ..., leaf_hash: _Optional[bytes] = ..., hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class GetConsistencyProofRequest(_message.Message):
    __slots__ = ("old_size", "new_size")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    new_size: int
    def __init__(self, old_size: _Optional[int] = ..., new_size: _Optional[int] = ...) -> None: ...

class ConsistencyProof(_message.Message):
    __slots__ = ("old_size", "new_size", "hashes")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    HASHES_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    new_size: int
    hashes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, old_size: _Optional[int] = ..., new_size: _Optional[int] = ..., hashes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class StreamBlocksRequest(_message.Message):
    __slots__ = ("from_height",)
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    from_height: int
    def __init__(self, from_height: _Optional[int] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("height", "header", "entries")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    height: int
    header: str
    entries: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, height: _Optional[int] = ..., header: _Optional[str] = ..., entries: _Optional[_Iterable[bytes]] = ...) -> None: ...
