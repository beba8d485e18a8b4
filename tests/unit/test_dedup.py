"""Cross-feed dedup's pure parts: SimHash, its signed storage and bands, and lock keys."""

from __future__ import annotations

from ingest import dedup
from tests.support.factories import COPY, COPY_HEADLINE, HEADLINE, OTHER, WIRE, story


def test_identical_texts_hash_equal_and_case_space_punctuation_do_not_matter() -> None:
    text = story(HEADLINE, WIRE)
    assert len(dedup.words(text)) >= 400
    assert dedup.simhash(text) == dedup.simhash(text)
    noisy = "  " + text.upper().replace(",", " ,").replace("\n", "\n\n\t") + " !!"
    assert dedup.simhash(noisy) == dedup.simhash(text)


def test_wire_copy_with_a_new_headline_and_an_edited_first_sentence_is_within_3_bits() -> None:
    original = dedup.simhash(story(HEADLINE, WIRE))
    assert dedup.hamming(original, dedup.simhash(story(COPY_HEADLINE, COPY))) <= 3
    dateline = [f"HARBOURTOWN (Coastal Press) - {WIRE[0]}", *WIRE[1:]]
    assert dedup.hamming(original, dedup.simhash(story(HEADLINE, dateline))) <= 3


def test_unrelated_texts_are_far_apart() -> None:
    a = dedup.simhash(story(HEADLINE, WIRE))
    b = dedup.simhash(story("Marathon finishes in the stadium", OTHER))
    assert dedup.hamming(a, b) > 20


def test_short_and_empty_texts() -> None:
    assert dedup.simhash("") == dedup.simhash(" ... ") == 0
    assert dedup.simhash("one two") != 0  # fewer words than a shingle: one shingle
    assert dedup.simhash("one two") == dedup.simhash("One, two!")


def test_signed_storage_bands_and_hamming() -> None:
    for h in (0, 1, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF):
        signed = dedup.to_signed64(h)
        assert -(2**63) <= signed < 2**63
        assert dedup.to_unsigned64(signed) == h
        assert dedup.bands(signed) == dedup.bands(h)
        assert dedup.hamming(signed, h) == 0
    assert dedup.bands(0x0123_4567_89AB_CDEF) == (0x0123, 0x4567, 0x89AB, 0xCDEF)
    assert all(0 <= b < 2**16 for b in dedup.bands(2**64 - 1))  # fits a signed 32-bit int
    assert dedup.hamming(0, 2**64 - 1) == 64
    assert dedup.hamming(dedup.to_signed64(2**63), 0) == 1


def test_lock_keys_are_shared_by_any_two_possible_duplicates() -> None:
    h = dedup.simhash(story(HEADLINE, WIRE))
    near = h ^ (1 << 63) ^ (1 << 40) ^ (1 << 20)  # three bits, three bands
    a = set(dedup.lock_keys("a" * 64, "c" * 64, h, near=True))
    assert a & set(dedup.lock_keys("b" * 64, "d" * 64, near, near=True))  # a shared band
    assert a & set(dedup.lock_keys("b" * 64, "c" * 64, 0, near=False))  # same canonical
    assert a & set(dedup.lock_keys("c" * 64, "e" * 64, 0, near=False))  # its URL = canonical
    assert dedup.lock_keys("a" * 64, None, h, near=True) == sorted(
        dedup.lock_keys("a" * 64, None, h, near=True)
    )
