"""The verdict plot (issue 19, item 8): it names the model and versions, zooms each metric's axis
onto small differences, marks thresholds and failing checks and slices, and draws no empty
slice panel. Drawn from verdict details as promotion.verdict stores them."""

from __future__ import annotations

import matplotlib.pyplot as plt

from mlkit.promotion.plot import FAIL_COLOR, plot_verdict, verdict_figure


def _details(base: bool, slices: bool) -> dict:
    cand_slices = {"a": {"accuracy": 0.99, "rows": 50}, "b": {"accuracy": 0.80, "rows": 50}}
    checks = [
        {"name": "accuracy at least 0.98", "kind": "value", "status": "fail",
         "reason": "accuracy 0.9720 is below 0.98"},
    ]  # fmt: skip
    if slices:
        checks.append({"name": "slice region=b", "kind": "slice", "status": "fail",
                       "reason": "accuracy 0.8000 is below 0.9"})  # fmt: skip
    return {
        "metric": "accuracy",
        "rows": 377,
        "data": {"slice_column": "region" if slices else None},
        "policy": {
            "at_least": {"accuracy": 0.98},
            "at_most": {},
            "min_improvement": 0.001,
            "slices": {"column": "region", "at_least": 0.9} if slices else None,
        },  # fmt: skip
        "candidate": {
            "version": 4,
            "metrics": {"accuracy": 0.972, "loss": 0.081},
            "slices": cand_slices if slices else {},
        },  # fmt: skip
        "baseline": {
            "version": 3,
            "metrics": {"accuracy": 0.975, "loss": 0.079},
            "slices": cand_slices if slices else {},
        }
        if base
        else None,  # fmt: skip
        "differences": {"accuracy": -0.003, "loss": 0.002} if base else {},
        "intervals": {"accuracy": [-0.01, 0.004], "loss": [-0.001, 0.005], "level": 0.95}
        if base
        else {},  # fmt: skip
        "checks": checks,
    }


def _texts(fig) -> str:
    return " ".join(t.get_text() for t in fig.findobj(plt.Text))


def test_it_names_the_model_and_versions_and_lists_the_failing_checks():
    fig = verdict_figure(_details(base=True, slices=False), passed=False, model="digits")
    assert fig._suptitle.get_text() == "digits v4 (candidate) vs v3 (baseline): FAIL"
    assert "FAIL  accuracy at least 0.98: accuracy 0.9720 is below 0.98" in _texts(fig)
    plt.close(fig)


def test_each_metric_axis_shows_a_difference_of_three_thousandths_and_the_threshold():
    fig = verdict_figure(_details(base=True, slices=False), passed=False, model="digits")
    accuracy = next(ax for ax in fig.axes if ax.get_ylabel() == "accuracy")
    low, high = accuracy.get_xlim()
    assert high - low < 0.05  # not 0..1: 0.972 and 0.975 are far apart on it
    assert low < 0.972 and high > 0.98  # the threshold is on the axis
    dashed = [line for line in accuracy.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in dashed] == [0.98]
    assert accuracy.yaxis.label.get_color() == FAIL_COLOR  # its check failed
    plt.close(fig)


def test_no_slice_panel_without_slices_and_failing_slices_in_red(tmp_path):
    without = verdict_figure(_details(base=False, slices=False), passed=False, model="m")
    titles = [ax.get_title() for ax in without.axes]
    assert not any("per" in t for t in titles) and not any("baseline," in t for t in titles)
    assert "(nothing deployed to compare)" in without._suptitle.get_text()
    plt.close(without)
    with_slices = verdict_figure(_details(base=True, slices=True), passed=False, model="m")
    panel = next(ax for ax in with_slices.axes if "per region" in ax.get_title())
    colors = {t.get_text(): t.get_color() for t in panel.get_yticklabels()}
    assert colors == {"a": "black", "b": FAIL_COLOR}
    plt.close(with_slices)
    path = plot_verdict(_details(base=True, slices=True), False, tmp_path / "v.png", model="m")
    assert path.stat().st_size > 10_000
