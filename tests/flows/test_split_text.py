"""Long chat texts cut where a reader expects: between paragraphs, lines, words."""

from __future__ import annotations

from flows.messages import split_text


def test_a_short_text_stays_whole() -> None:
    assert split_text("  hola  ", 10) == ["hola"]
    assert split_text("", 10) == [""]


def test_cuts_fall_between_paragraphs_then_lines_then_words() -> None:
    assert split_text("uno dos\n\ntres cuatro", 12) == ["uno dos", "tres cuatro"]
    assert split_text("uno dos\ntres cuatro", 12) == ["uno dos", "tres cuatro"]
    assert split_text("uno dos tres cuatro", 12) == ["uno dos", "tres cuatro"]


def test_a_word_longer_than_the_limit_is_cut_and_nothing_is_lost() -> None:
    text = "a" * 25 + " fin"
    pieces = split_text(text, 10)

    assert all(len(piece) <= 10 for piece in pieces)
    assert "".join(pieces) == text
