"""Signed notes against golang.org/x/mod/sumdb/note's documented example.

Source: golang/mod sumdb/note/note.go package documentation: signer key
PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz, verifier key
PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW and the signed note below
(Ed25519 is deterministic, so signing reproduces it byte for byte).
"""

from __future__ import annotations

import base64

import pytest

from canary_stream.evidence.errors import (
    InvalidNoteSignature,
    MalformedNote,
    NoteError,
    UnverifiedNote,
)
from canary_stream.evidence.note import (
    key_id,
    public_key_from_seed,
    sign_note,
    split_note,
    verifier_key,
    verify_note,
)

NAME = "PeterNeumann"
SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PUBLIC = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")[1:]
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
SIG_LINE = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngot"
    "pRZb6KE6RyyBwJnAM=\n"
)
NOTE = TEXT + "\n" + SIG_LINE
COSIGNATURE = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWL"
    "ox33WWd1RvMc+QQ=\n"
)


def test_key_material() -> None:
    assert public_key_from_seed(SEED) == PUBLIC
    assert key_id(NAME, PUBLIC).hex() == "c74f20a3"
    assert verifier_key(NAME, PUBLIC) == (
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )


def test_sign_reproduces_go_example() -> None:
    assert sign_note(TEXT, NAME, SEED) == NOTE


def test_verify_returns_text() -> None:
    assert verify_note(NOTE, NAME, PUBLIC) == TEXT


def test_cosignatures_by_other_keys_are_ignored() -> None:
    assert verify_note(NOTE + COSIGNATURE, NAME, PUBLIC) == TEXT
    assert verify_note(TEXT + "\n" + COSIGNATURE + SIG_LINE, NAME, PUBLIC) == TEXT


def test_split_note() -> None:
    text, sigs = split_note(NOTE + COSIGNATURE)
    assert text == TEXT
    assert [(n, k.hex(), len(s)) for n, k, s in sigs] == [
        ("PeterNeumann", "c74f20a3", 64),
        ("EnochRoot", "af0cfe78", 64),
    ]


def test_text_with_a_blank_line_round_trips() -> None:
    text = "first\n\nthird\n"
    note = sign_note(text, NAME, SEED)
    assert verify_note(note, NAME, PUBLIC) == text


def test_tampered_text_fails() -> None:
    with pytest.raises(InvalidNoteSignature, match="signature by PeterNeumann\\+c74f20a3"):
        verify_note(NOTE.replace("answer", "Answer"), NAME, PUBLIC)


def test_tampered_signature_fails() -> None:
    raw = bytearray(base64.b64decode(SIG_LINE.split()[-1]))
    raw[10] ^= 1
    bad = TEXT + "\n\u2014 PeterNeumann " + base64.b64encode(bytes(raw)).decode() + "\n"
    with pytest.raises(InvalidNoteSignature):
        verify_note(bad, NAME, PUBLIC)


def test_other_key_or_name_is_unverified() -> None:
    other_public = public_key_from_seed(bytes(32))
    with pytest.raises(UnverifiedNote, match="no signature by PeterNeumann\\+"):
        verify_note(NOTE, NAME, other_public)
    with pytest.raises(UnverifiedNote, match="no signature by Peter\\+"):
        verify_note(NOTE, "Peter", PUBLIC)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (TEXT + SIG_LINE, "no blank line"),
        (NOTE[:-1], "must end with a newline"),
        (TEXT + "\n" + SIG_LINE.replace("\u2014", "-"), "does not start with an em dash"),
        (TEXT + "\n" + SIG_LINE.replace("x08go", "x08g!"), "malformed signature line"),
        (TEXT + "\n" + SIG_LINE.replace("PeterNeumann x", "Peter+Neumann x"), "malformed"),
        (TEXT + "\n\u2014 PeterNeumann AAAAAA==\n", "too short"),
        (TEXT + "\n\u2014 PeterNeumann \n", "too short"),
        ("tab\there\n\n" + SIG_LINE, "control character U\\+0009"),
        (TEXT + "\n" + SIG_LINE * 101, "101 signature lines, at most 100"),
    ],
)
def test_malformed_notes(note: str, message: str) -> None:
    with pytest.raises(MalformedNote, match=message):
        verify_note(note, NAME, PUBLIC)


@pytest.mark.parametrize(
    ("text", "name", "seed", "error", "message"),
    [
        ("no newline", NAME, SEED, MalformedNote, "must end with a newline"),
        ("bell\x07\n", NAME, SEED, MalformedNote, "control character U\\+0007"),
        (TEXT, "", SEED, NoteError, "invalid key name"),
        (TEXT, "two words", SEED, NoteError, "invalid key name"),
        (TEXT, "a+b", SEED, NoteError, "invalid key name"),
        (TEXT, NAME, bytes(31), NoteError, "seed has 31 bytes, want 32"),
    ],
)
def test_sign_rejects(
    text: str, name: str, seed: bytes, error: type[NoteError], message: str
) -> None:
    with pytest.raises(error, match=message):
        sign_note(text, name, seed)


def test_key_id_needs_32_byte_key() -> None:
    with pytest.raises(NoteError, match="public key has 31 bytes, want 32"):
        key_id(NAME, bytes(31))
