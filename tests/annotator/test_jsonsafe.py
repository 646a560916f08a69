"""annotator.io.jsonsafe: json.loads with bounded depth and numbers (no database)."""

import pytest

from annotator.io import jsonsafe


def test_nesting_up_to_the_limit_parses_and_one_more_level_is_refused():
    assert jsonsafe.loads("[" * 32 + "]" * 32) is not None
    with pytest.raises(jsonsafe.JSONProblem, match="more than 32 levels deep"):
        jsonsafe.loads("[" * 33 + "]" * 33)
    with pytest.raises(jsonsafe.JSONProblem, match="more than 32 levels deep"):
        jsonsafe.loads('{"a":' * 1500 + "1" + "}" * 1500)


def test_brackets_and_escaped_quotes_inside_strings_do_not_count_as_nesting():
    text = '{"a": "' + "[{" * 100 + '\\"[[[", "b": [1]}'
    assert jsonsafe.loads(text)["b"] == [1]


def test_duplicate_keys_are_accepted_and_the_last_one_wins():
    assert jsonsafe.loads('{"a": 1, "a": 2}') == {"a": 2}


@pytest.mark.parametrize(
    "text, path, words",
    [
        ('{"v": [{"d": NaN}]}', ("v", 0, "d"), "NaN is not a number JSON allows"),
        ('{"v": -Infinity}', ("v",), "-Infinity is not a number"),
        ('{"v": 1e400}', ("v",), "1e400 is too large"),
        ('{"v": -' + "1" * 101 + "}", ("v",), "101 digits is too long"),
    ],
)
def test_numbers_json_does_not_allow_are_refused_with_their_place(text, path, words):
    with pytest.raises(jsonsafe.JSONProblem, match=words) as refused:
        jsonsafe.loads(text)
    assert refused.value.path == path


def test_long_but_allowed_numbers_parse_exactly():
    assert jsonsafe.loads("[" + "9" * 100 + ", -1.5e10]") == [int("9" * 100), -1.5e10]


def test_text_postgresql_cannot_store_is_found_in_keys_and_values():
    assert "NUL" in jsonsafe.find_unstorable({"ok": ["fine", {"x\x00": 1}]})
    assert "surrogate" in jsonsafe.find_unstorable(["\ud800"])
    assert jsonsafe.find_unstorable({"a": ["b", 1, None]}) is None
