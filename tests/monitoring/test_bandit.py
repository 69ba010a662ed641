"""The bandit's arithmetic, without a server: Thompson sampling finds the better version within
the issue's regret bound, keeps every version's minimum share, caps a failed one, and resumes
from recorded counts; rewards for classification and regression."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from mlkit.monitoring.bandit import BanditPolicy, ThompsonPicker, constrain, reward
from mlkit.serving.observe import Answered, Feedback
from mlkit.serving.routing import Target

TARGETS = [Target(1, Path("v1"), 50), Target(2, Path("v2"), 50)]


def play(picker: ThompsonPicker, accuracy: dict[int, float], requests: int, seed: int = 0) -> list:
    rng = random.Random(seed)
    served = []
    for n in range(requests):
        target = picker.pick("m", TARGETS)
        picker.answered(Answered(str(n), "m", target.version, "x", 200, 0.0, [{}],
                                 [{"class_id": 1}], 0.0))  # fmt: skip
        right = rng.random() < accuracy[target.version]
        picker.feedback([Feedback(str(n), "m", 1 if right else 0)])
        served.append(target.version)
    return served


def test_thompson_sampling_beats_a_fixed_split_by_three_times() -> None:
    accuracy = {1: 0.90, 2: 0.95}
    recorded = []
    picker = ThompsonPicker(
        lambda m: BanditPolicy(min_share=0.05),
        seed=4,
        on_allocation=lambda m, shares, counts: recorded.append(shares),
    )
    served = play(picker, accuracy, 4000)
    regret = served.count(1) * 0.05
    assert regret <= 4000 * 0.5 * 0.05 / 3
    assert served[-500:].count(2) >= 0.85 * 500
    assert recorded and recorded[-1][2] > 0.85
    assert picker.allocation("m")[1] >= 0.05 - 1e-9  # the exploration floor holds


def test_a_failed_version_is_capped_even_when_it_looks_best() -> None:
    picker = ThompsonPicker(lambda m: BanditPolicy(capped=frozenset({2}), cap=0.1), seed=1)
    served = play(picker, {1: 0.5, 2: 0.99}, 1500)
    assert picker.allocation("m")[2] <= 0.1 + 1e-9
    assert served[-500:].count(2) < 100


def test_a_restarted_bandit_resumes_from_its_counts() -> None:
    prior = {1: (10, 90), 2: (95, 5)}
    picker = ThompsonPicker(lambda m: BanditPolicy(prior=prior), seed=2)
    picker.pick("m", TARGETS)
    assert picker.allocation("m")[2] > 0.9
    assert picker.counts("m") == prior


def test_models_without_a_bandit_policy_follow_the_fixed_split() -> None:
    picker = ThompsonPicker(lambda m: None, seed=3)
    served = [picker.pick("m", [Target(1, Path("a"), 90), Target(2, Path("b"), 10)]).version
              for _ in range(2000)]  # fmt: skip
    assert 1600 < served.count(1) < 2000


def test_rewards() -> None:
    assert reward({"class_id": 3}, 3) == 1.0 and reward({"class_id": 3}, "4") == 0.0
    assert reward({"class_id": 3}, 3.0) == 1.0
    assert reward({"value": 10.0}, 10.5, tolerance=1.0) == 1.0
    assert reward({"value": 10.0}, 12.0, tolerance=1.0) == 0.0
    assert reward({"value": 100.0}, 105.0) == 1.0  # default: 10 % of the truth
    assert reward({"flat": [1]}, 1) is None


def test_constrain_keeps_bounds_and_sums_to_one() -> None:
    shares = constrain(np.array([0.0, 1.0, 0.0]), np.full(3, 0.05), np.array([1.0, 0.2, 1.0]))
    assert abs(shares.sum() - 1.0) < 1e-9
    assert shares[1] <= 0.2 + 1e-9 and (shares >= 0.05 - 1e-9).all()


def test_answers_are_remembered_as_their_json_text_not_the_servers_dicts() -> None:
    """What the picker remembers to match feedback with is the answer's JSON text: no dict or
    list of the request stays alive (200,000 of them made the garbage collector's full
    collections stop the endpoint for 0.5 s), and the reward is the same."""
    import json
    import weakref

    class Prediction(dict):  # a dict that can be watched with a weak reference
        pass

    picker = ThompsonPicker(lambda m: BanditPolicy(min_share=0.05), seed=1, update_every=1)
    for n in range(2):
        prediction = Prediction(class_id=1)
        kept = weakref.ref(prediction)
        picker.pick("m", TARGETS)
        picker.answered(Answered(f"r{n}", "m", 2, "x", 200, 0.0, [{}], [prediction], 0.0,
                                 predictions_json=json.dumps([prediction])))  # fmt: skip
        del prediction
        assert kept() is None
    picker.feedback([Feedback("r0", "m", 1), Feedback("r1", "m", 0)])
    assert picker.counts("m")[2] == (1, 1)
