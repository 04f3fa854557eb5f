"""What a verdict keeps of the learner's program output: all of a short one, the start and end of a long one."""

from cards.grading.measure import OUTPUT_HEAD_CHARS, OUTPUT_TAIL_CHARS, cap_output


def test_short_output_is_kept_whole():
    assert cap_output("hello\n") == "hello\n"
    text = "x" * (OUTPUT_HEAD_CHARS + OUTPUT_TAIL_CHARS)
    assert cap_output(text) == text


def test_long_output_keeps_its_start_and_its_end_and_says_what_was_left_out():
    text = "START" + "." * 100_000 + "KeyError: 'id'"
    capped = cap_output(text)
    assert capped.startswith("START") and capped.endswith("KeyError: 'id'")
    assert f"[... {len(text) - OUTPUT_HEAD_CHARS - OUTPUT_TAIL_CHARS:,} characters left out ...]" in capped
    assert len(capped) < OUTPUT_HEAD_CHARS + OUTPUT_TAIL_CHARS + 60
