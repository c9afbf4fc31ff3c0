"""Token minting and hashing (the database paths run in tests/integration/test_merkle.py)."""

from __future__ import annotations

import hashlib

from canary_stream.db.api_tokens import TOKEN_PREFIX, new_token, token_hash


def test_new_tokens_are_random_and_prefixed() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert token.startswith(TOKEN_PREFIX)
        assert len(token) == len(TOKEN_PREFIX) + 43


def test_only_the_hash_is_stored() -> None:
    assert token_hash("cst_abc") == hashlib.sha256(b"cst_abc").digest()
