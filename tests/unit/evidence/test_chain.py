"""The per-merchant hash chain: exact digests, link building and the first-break verifier.

Digests reproduce with coreutils:
  e1=$(printf '{"n":1}' | sha256sum | cut -c1-64)          # event hash
  c1=$(echo -n $e1 | xxd -r -p | sha256sum | cut -c1-64)   # genesis chain hash
  c2=$(echo -n $c1$e2 | xxd -r -p | sha256sum | cut -c1-64) # SHA-256(c1 || e2)
"""

from __future__ import annotations

import pytest

from canary_stream.evidence.chain import (
    BreakKind,
    ChainBreak,
    ChainLink,
    ChainRecord,
    chain_hash,
    event_hash,
    find_first_break,
    next_links,
    walk_chain,
)
from canary_stream.evidence.errors import ChainError

RAW = [b'{"n":1}', b'{"n":2}', b'{"n":3}']
E = [
    bytes.fromhex("2bfd14f43d17fc7cea24e0917a8879b4b2f880b8baeec1b9d90fbaad655e71bd"),
    bytes.fromhex("363379742f80b51bdb9206579af7754911543079b9399cb3fc315fb199f476e8"),
    bytes.fromhex("215ddd5567ca2590efd4ea109b4e56cbe591e2676fbf54a9262692c539166da6"),
]
C = [
    bytes.fromhex("e3d310a549de8c39ae19c39f23215d8169d6e0457cb0c8e884befe019d115143"),
    bytes.fromhex("149a10e054726ae076ccb2982f16e1ccd73a17de9897f45c68de8caa58a6a584"),
    bytes.fromhex("3d4df2be59ff78c645b83b05a1df8ca767a885cab13a153c8e532af97db258d6"),
]


def good_records() -> list[ChainRecord]:
    prevs: list[bytes | None] = [None, C[0], C[1]]
    return [(i + 1, RAW[i], E[i], prevs[i], C[i]) for i in range(3)]


def test_event_hash_is_sha256_of_raw_bytes() -> None:
    assert [event_hash(r) for r in RAW] == E
    assert event_hash(b"").hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_chain_hash_genesis_and_links() -> None:
    assert chain_hash(None, E[0]) == C[0]
    assert chain_hash(C[0], E[1]) == C[1]
    assert chain_hash(C[1], E[2]) == C[2]


@pytest.mark.parametrize(
    ("prev", "ev", "message"),
    [
        (None, bytes(31), "event_hash has 31 bytes, want 32"),
        (bytes(33), bytes(32), "prev chain hash has 33 bytes, want 32"),
        (b"", bytes(32), "prev chain hash has 0 bytes, want 32"),
    ],
)
def test_chain_hash_rejects_wrong_lengths(prev: bytes | None, ev: bytes, message: str) -> None:
    with pytest.raises(ChainError, match=message):
        chain_hash(prev, ev)


def test_next_links_from_empty_chain() -> None:
    assert next_links(0, None, E) == [
        ChainLink(seq=1, event_hash=E[0], prev_chain_hash=None, chain_hash=C[0]),
        ChainLink(seq=2, event_hash=E[1], prev_chain_hash=C[0], chain_hash=C[1]),
        ChainLink(seq=3, event_hash=E[2], prev_chain_hash=C[1], chain_hash=C[2]),
    ]


def test_next_links_from_a_head() -> None:
    assert next_links(2, C[1], [E[2]]) == [
        ChainLink(seq=3, event_hash=E[2], prev_chain_hash=C[1], chain_hash=C[2])
    ]
    assert next_links(7, C[2], []) == []


@pytest.mark.parametrize(
    ("seq", "head", "message"),
    [
        (-1, None, "head seq must be >= 0, got -1"),
        (0, C[0], "head seq 0 needs no head chain hash"),
        (3, None, "head seq 3 needs a head chain hash"),
    ],
)
def test_next_links_rejects_inconsistent_head(seq: int, head: bytes | None, message: str) -> None:
    with pytest.raises(ChainError, match=message):
        next_links(seq, head, E)


def test_intact_chain_reports_counts_and_head() -> None:
    report = walk_chain(good_records())
    assert (report.ok, report.checked, report.head_seq, report.head_chain_hash) == (
        True, 3, 3, C[2],
    )  # fmt: skip
    assert find_first_break(good_records()) is None


def test_empty_chain() -> None:
    report = walk_chain([])
    assert (report.ok, report.checked, report.head_seq, report.head_chain_hash) == (
        True, 0, 0, None,
    )  # fmt: skip


def test_walk_from_a_trusted_head() -> None:
    report = walk_chain(good_records()[2:], start_seq=3, start_prev_chain_hash=C[1])
    assert (report.ok, report.checked, report.head_seq, report.head_chain_hash) == (
        True, 1, 3, C[2],
    )  # fmt: skip


@pytest.mark.parametrize(("start", "prev"), [(0, None), (1, C[0]), (4, None)])
def test_walk_rejects_inconsistent_start(start: int, prev: bytes | None) -> None:
    with pytest.raises(ChainError):
        walk_chain([], start_seq=start, start_prev_chain_hash=prev)


def test_seq_gap() -> None:
    records = good_records()
    del records[1]
    report = walk_chain(records)
    assert report.first_break == ChainBreak(3, BreakKind.SEQ_GAP, expected=2, found=3)
    assert (report.checked, report.head_seq, report.head_chain_hash) == (1, 1, C[0])
    assert report.first_break.describe() == "seq 3: seq_gap (expected 2, found 3)"


def test_chain_not_starting_at_one() -> None:
    assert find_first_break(good_records()[1:]) == ChainBreak(
        2, BreakKind.SEQ_GAP, expected=1, found=2
    )


def test_tampered_raw_payload() -> None:
    records = good_records()
    seq, _, ev, prev, ch = records[1]
    records[1] = (seq, b'{"n":9}', ev, prev, ch)
    brk = find_first_break(records)
    assert brk == ChainBreak(2, BreakKind.EVENT_HASH_MISMATCH, expected=event_hash(b'{"n":9}'),
                             found=E[1])  # fmt: skip


def test_swapped_prev_link() -> None:
    records = good_records()
    seq, raw, ev, _, ch = records[2]
    records[2] = (seq, raw, ev, C[0], ch)
    brk = find_first_break(records)
    assert brk == ChainBreak(3, BreakKind.PREV_LINK_MISMATCH, expected=C[1], found=C[0])
    assert brk is not None
    assert brk.describe() == (
        f"seq 3: prev_link_mismatch (expected {C[1].hex()}, found {C[0].hex()})"
    )


def test_genesis_with_a_prev_link() -> None:
    records = good_records()
    seq, raw, ev, _, ch = records[0]
    records[0] = (seq, raw, ev, bytes(32), ch)
    assert find_first_break(records) == ChainBreak(
        1, BreakKind.PREV_LINK_MISMATCH, expected=None, found=bytes(32)
    )


def test_forged_chain_hash() -> None:
    records = good_records()
    seq, raw, ev, prev, _ = records[1]
    records[1] = (seq, raw, ev, prev, bytes(32))
    assert find_first_break(records) == ChainBreak(
        2, BreakKind.CHAIN_HASH_MISMATCH, expected=C[1], found=bytes(32)
    )


def test_rewritten_history_breaks_at_the_first_changed_link() -> None:
    # A consistent rewrite from seq 2 on still breaks where seq 3 points at the old seq 2.
    new_e2 = event_hash(b'{"n":20}')
    new_c2 = chain_hash(C[0], new_e2)
    records = good_records()
    records[1] = (2, b'{"n":20}', new_e2, C[0], new_c2)
    assert find_first_break(records) == ChainBreak(
        3, BreakKind.PREV_LINK_MISMATCH, expected=new_c2, found=C[1]
    )


def test_checks_every_link_not_only_ends() -> None:
    # CVE-2022-36111 class: first and last intact, a middle link replaced.
    raws = [str(i).encode() for i in range(1, 11)]
    links = next_links(0, None, [event_hash(r) for r in raws])
    records: list[ChainRecord] = [
        (ln.seq, raw, ln.event_hash, ln.prev_chain_hash, ln.chain_hash)
        for ln, raw in zip(links, raws, strict=True)
    ]
    assert find_first_break(records) is None
    seq, _, ev, prev, ch = records[4]
    records[4] = (seq, b"forged", ev, prev, ch)
    brk = find_first_break(records)
    assert brk is not None and (brk.seq, brk.kind) == (5, BreakKind.EVENT_HASH_MISMATCH)
