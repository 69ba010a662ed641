"""The feedback route's body, as both servers parse it (mlkit.serving.observe.parse_feedback)."""

from __future__ import annotations

import pytest

from mlkit.serving.observe import Feedback, parse_feedback, tell_feedback, valid_request_id


def test_both_shapes_give_the_same_feedback() -> None:
    listed = parse_feedback("m", {"feedback": [{"request_id": "a1", "label": 3, "index": 1}]})
    parallel = parse_feedback("m", {"request_ids": ["a1"], "labels": [3]})
    assert isinstance(listed, list) and isinstance(parallel, list)
    assert (listed[0].request_id, listed[0].label, listed[0].index) == ("a1", 3, 1)
    assert (parallel[0].model, parallel[0].index) == ("m", 0)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([1, 2], "the body must be"),
        ({"feedback": []}, "the body must be"),
        ({"request_ids": ["a"], "labels": [1, 2]}, "same length"),
        ({"feedback": [{"request_id": "a"}]}, "item 0 must be an object"),
        ({"feedback": [{"request_id": "a b", "label": 1}]}, "'request_id'"),
        ({"feedback": [{"request_id": "a", "label": 1, "index": -1}]}, "'index'"),
        ({"feedback": [{"request_id": "a", "label": [1]}]}, "'label'"),
    ],
)
def test_a_bad_body_is_one_line_naming_the_field(body: object, says: str) -> None:
    answer = parse_feedback("m", body)
    assert isinstance(answer, str) and says in answer and "\n" not in answer


def test_each_observer_hears_once() -> None:
    heard: list[int] = []

    class Listener:
        def feedback(self, items) -> None:
            heard.append(len(items))

    listener = Listener()
    tell_feedback([listener, object(), listener], [Feedback("a", "m", 1)])
    assert heard == [1]
    assert valid_request_id("order-17:a.b_c") and not valid_request_id("x" * 129)
