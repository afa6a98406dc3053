"""``redact`` finds the bare secrets (the last two shapes of ``SECRET_URL_SHAPES``) by scanning
for long runs first: it must redact exactly what applying every shape in turn redacts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crewcommand.lib.logging import REDACTED, SECRET_URL_SHAPES, _replace, redact


def _every_shape_in_turn(text: str) -> str:
    for shape in SECRET_URL_SHAPES:
        text = shape.sub(_replace, text)
    return text


TOKEN = "k" * 20 + "-_" + "Z9" * 10 + "a"  # 43 URL-safe characters
RESET = "cc4b1z-" + "0123456789abcdef" * 2

pieces = st.sampled_from(
    [
        TOKEN,
        RESET,
        RESET.upper(),
        "x" * 42,
        "x" * 44,
        "-" * 43,
        "/p/",
        "/r/",
        "?code=",
        "&state=",
        "/",
        "_",
        "-",
        " ",
        '"',
        "\\",
        "a",
        "F",
        "0",
        "[",
        "%2f",
        "cs_test_" + "b" * 58,
        "evt_1",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(pieces, max_size=12))
def test_redact_finds_what_every_shape_in_turn_finds(parts: list[str]) -> None:
    text = "".join(parts)
    assert redact(text) == _every_shape_in_turn(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='aZ09_-/.?&=%\\" fF', max_size=120))
def test_redact_agrees_on_any_text(text: str) -> None:
    assert redact(text) == _every_shape_in_turn(text)


def test_bare_tokens_are_redacted_and_longer_ids_kept() -> None:
    stripe_id = "cs_test_" + "b" * 58
    text = f'{{"a": "{TOKEN}", "b": "{RESET}", "c": "{stripe_id}", "d": "{"x" * 42}"}}'
    assert (
        redact(text)
        == f'{{"a": "{REDACTED}", "b": "{REDACTED}", "c": "{stripe_id}", "d": "{"x" * 42}"}}'
    )
