"""Calibration: κ against reference computations (published worked examples), alignment, the auto-scorer
as one more rater, and a blind session through the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from callqa.auth import Role
from coaching import calibration
from coaching.calibration import Score
from tests.coaching.helpers import QA, QA2, SUPERVISOR, Feed, bearer

pytestmark = pytest.mark.timeout(120)


def test_cohen_kappa_matches_the_textbook_example() -> None:
    # Two raters, 50 subjects: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> po 0.7, pe 0.5, κ = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert calibration.cohen(a, b) == pytest.approx(0.4)
    assert calibration.cohen(["pass"] * 5, ["pass"] * 5) is None  # undefined, not 1 or NaN


def test_fleiss_kappa_matches_fleiss_1971_worked_example() -> None:
    # 10 subjects, 14 raters, 5 categories (the worked example in Fleiss 1971 / Wikipedia): κ = 0.210
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    ratings = [[str(c) for c, n in enumerate(row) for _ in range(n)] for row in table]
    assert calibration.fleiss(ratings) == pytest.approx(0.2099, abs=1e-4)


def test_alignment_weights_items_by_points() -> None:
    s1, s2 = ("e1", "a"), ("e1", "b")
    maxima = {s1: 10.0, s2: 30.0}
    reference = {s1: Score("pass", 10), s2: Score("pass", 30)}
    analyst = {s1: Score("fail", 0), s2: Score("pass", 30)}  # misses the small item only
    assert calibration.alignment(analyst, reference, maxima) == pytest.approx(0.75)


def test_report_with_auto_scorer_as_a_rater() -> None:
    subjects = [(f"e{i}", f"i{j}") for i in range(4) for j in range(3)]  # 12 subjects
    truth = {s: ("pass" if n % 3 else "fail") for n, s in enumerate(subjects)}
    a1 = {s: Score(v, 10 if v == "pass" else 0) for s, v in truth.items()}
    a2 = dict(a1) | {subjects[0]: Score("fail" if truth[subjects[0]] == "pass" else "pass", 0)}
    a3 = dict(a1)
    auto = {s: Score("pass", 10) for s in subjects}
    report = calibration.report({"a1": a1, "a2": a2, "a3": a3}, {}, auto, dict.fromkeys(subjects, 10.0))
    assert report.subjects == 12 and report.fleiss_kappa is not None and report.fleiss_kappa > 0.8
    by = {r.rater: r for r in report.analysts}
    assert by["a1"].kappa == pytest.approx(1.0) and by["a1"].kappa_shown and by["a1"].kappa_against == "consensus"
    assert report.auto_scorer is not None and report.auto_scorer.rater == "auto"
    consensus = [truth[s] for s in subjects]
    assert report.auto_scorer.agreement == pytest.approx(consensus.count("pass") / 12)
    assert report.auto_scorer.kappa == pytest.approx(calibration.cohen(["pass"] * 12, consensus) or 0.0)
    small = calibration.report({"a1": {subjects[0]: a1[subjects[0]]}}, {}, {}, {})
    assert small.analysts[0].kappa is None and not small.analysts[0].kappa_shown and small.notes


def test_a_blind_session(client: TestClient, feed: Feed) -> None:
    calls = [feed(failed=("closing",)).evaluation_id, feed(failed=("greeting", "closing")).evaluation_id]
    created = client.post(
        "/v1/calibrations",
        json={"name": "nov", "evaluation_ids": calls, "analysts": ["qa-lin", "qa-wu"]},
        headers=SUPERVISOR,
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    blank = client.get(f"/v1/calibrations/{sid}/calls/{calls[0]}", headers=QA).json()
    assert blank["mine"] == [] and all(set(i) == {"item_id", "section", "max_points"} for i in blank["items"])
    outsider = bearer("qa-zhou", Role.qa_analyst)
    assert client.get(f"/v1/calibrations/{sid}/calls/{calls[0]}", headers=outsider).status_code == 403
    assert client.get(f"/v1/calibrations/{sid}/report", headers=QA).status_code == 403  # not submitted: blind

    def score(headers: dict[str, str], call: str, closing: str) -> int:
        items = [
            {
                "item_id": i,
                "result": closing if i == "closing" else "pass",
                "points": 10 if (closing == "pass" or i != "closing") else 0,
            }
            for i in ("greeting", "verify_identity", "forbidden_phrases", "closing")
        ]
        return client.put(
            f"/v1/calibrations/{sid}/calls/{call}/score", json={"items": items}, headers=headers
        ).status_code

    bad = client.put(
        f"/v1/calibrations/{sid}/calls/{calls[0]}/score",
        json={"items": [{"item_id": "x", "result": "pass", "points": 1}]},
        headers=QA,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "items.0.item_id"
    assert client.post(f"/v1/calibrations/{sid}/submit", headers=QA).status_code == 409  # not every call scored
    for call in calls:
        assert score(QA, call, "fail") == 200
        assert score(QA2, call, "pass") == 200
        assert score(SUPERVISOR, call, "fail") == 200  # the lead's reference
    assert client.post(f"/v1/calibrations/{sid}/submit", headers=QA).status_code == 200
    assert score(QA, calls[0], "pass") == 409  # submitted scores are final
    report = client.get(f"/v1/calibrations/{sid}/report", headers=QA).json()
    assert [a["rater"] for a in report["analysts"]] == ["qa-lin"]  # qa-wu has not submitted: not counted
    assert client.post(f"/v1/calibrations/{sid}/submit", headers=QA2).status_code == 200
    report = client.get(f"/v1/calibrations/{sid}/report", headers=SUPERVISOR).json()
    by = {a["rater"]: a for a in report["analysts"]}
    assert by["qa-lin"]["alignment"] == 1.0 and by["qa-wu"]["alignment"] == pytest.approx(0.75)
    assert by["qa-lin"]["kappa_against"] == "reference" and report["subjects"] == 8
    closing = next(i for i in report["items"] if i["item_id"] == "closing")
    assert closing["agreement"] == 0.5 and closing["consensus_rate"] == 0.0
    assert client.post(f"/v1/calibrations/{sid}/close", headers=QA).status_code == 403
    assert client.post(f"/v1/calibrations/{sid}/close", headers=SUPERVISOR).json()["status"] == "closed"
    assert client.post(f"/v1/calibrations/{sid}/close", headers=SUPERVISOR).status_code == 409
    # calibration never touches the evaluations agents see
    for call in calls:
        assert client.get(f"/v1/evaluations/{call}", headers=QA).json()["latest_version"] == 1
