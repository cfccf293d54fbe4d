"""The console in Debian's chromium against a throw-away local stack: sign-in per role, search, the call page
(play, seek from a finding, review with override), an appeal from the agent's side to its resolution, a report
dashboard's charts, filters and a download, a calibration session (blind scoring, the agreement results, the lead's
reference), the scorecard editor's errors at their path and a draft's dry-run on a call, and that an agent cannot
open another agent's call."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from callqa.auth import Authenticator
from callqa.settings import AuthSettings

pytestmark = pytest.mark.slow
ME, OTHER = "agent-en-104", "agent-en-112"
WAIT = 30_000

FILL_MS = 90_000  # a whole default card typed into the editor: slow on a busy 2-core machine


def sign_in(page: Page, seeded: Any, user: str) -> None:
    page.goto("/login")
    page.get_by_label(re.compile("User name|用户名")).fill(user)
    page.get_by_label(re.compile("Password|密码")).fill(seeded.logins[user]["password"])
    page.get_by_role("button", name=re.compile("Sign in|登录")).click()
    expect(page.get_by_test_id("whoami")).to_have_text(user, timeout=WAIT)


def recording_id(seeded: Any, agent: str) -> str:
    return str(seeded.calls[agent]["recording"]["id"])


def test_sign_in_per_role_and_a_wrong_password(seeded: Any, new_page: Any) -> None:
    for user, landing in (
        ("qa", "/calls"),
        ("supervisor", "/calls"),
        ("trainer", "/calls"),
        ("auditor", "/calls"),
        ("admin", "/calls"),
        (ME, "/me"),
    ):
        page = new_page()
        sign_in(page, seeded, user)
        expect(page).to_have_url(re.compile(re.escape(landing) + "$"))
        cookie = next(c for c in page.context.cookies() if c["name"] == "callqa_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page = new_page("zh-CN")
    page.goto("/login")
    expect(page.get_by_role("heading")).to_have_text("登录 callqa")
    page.get_by_label("用户名").fill("qa")
    page.get_by_label("密码").fill("not the password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")


def test_search_by_filters_and_words(seeded: Any, new_page: Any) -> None:
    page = new_page()
    sign_in(page, seeded, "qa")
    expect(page.get_by_test_id("total")).to_have_text("2")
    words = " ".join(seeded.calls[OTHER]["transcript"].split()[1:3])
    page.get_by_label("Words said in the call").fill(words)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("total")).to_have_text("1")
    expect(page.get_by_test_id("calls")).to_contain_text(OTHER)
    page.get_by_label("Words said in the call").fill("")
    page.get_by_label("Agent").fill(ME)
    page.get_by_label("Score at least").fill("0")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("total")).to_have_text("1")
    expect(page.get_by_test_id("calls")).to_contain_text(ME)
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("link", name="通话", exact=True)).to_be_visible()


def test_call_page_play_seek_and_review_with_override(seeded: Any, new_page: Any, shot: Any) -> None:
    page = new_page()
    sign_in(page, seeded, "supervisor")
    page.goto(f"/calls/{recording_id(seeded, ME)}")
    expect(page.get_by_test_id("transcript")).to_be_visible()
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function("document.getElementById('audio').currentTime > 0.2", timeout=WAIT)
    evidence = page.locator("button.evidence").last
    target_ms = int(evidence.get_attribute("data-seek") or 0)
    evidence.click()
    page.wait_for_function(
        f"Math.abs(document.getElementById('audio').currentTime * 1000 - {target_ms}) < 1500", timeout=WAIT
    )
    expect(page.locator("#turns .turn.current")).to_have_count(1, timeout=WAIT)
    shot(page, "playing")
    page.get_by_role("button", name="Review this call myself").click()
    form = page.get_by_test_id("review-form")
    item = form.locator("fieldset").first
    item_id = item.get_attribute("data-review-item")
    auto = seeded.calls[ME]["evaluation"]["auto"]["items"]
    was = next(i["result"] for i in auto if i["item_id"] == item_id)
    item.get_by_label("override", exact=True).check()
    item.get_by_label("Result").select_option("fail" if was == "pass" else "pass")
    item.get_by_label("Reason for the override").fill("heard otherwise at the start")
    form.get_by_role("button", name="Submit review").click()
    expect(page.get_by_test_id("review-done")).to_contain_text("version 2")
    expect(page.get_by_test_id("versions")).to_contain_text("supervisor")
    audit = httpx.get(f"{seeded.stack.url('recorder-ingest')}/v1/audit", headers=seeded.admin, params={"limit": 500})
    listens = [
        e
        for e in audit.json()["items"]
        if e.get("recording_id") == recording_id(seeded, ME) and e["actor"] == "supervisor"
    ]
    assert listens, "the listen is audited by recorder-ingest under the signed-in user's name"


def test_an_appeal_from_the_agent_to_its_resolution(seeded: Any, new_page: Any, shot: Any) -> None:
    agent = new_page()
    sign_in(agent, seeded, ME)
    expect(agent.get_by_test_id("my-evaluations")).to_be_visible()
    agent.get_by_role("link", name="Open the call").first.click()
    agent.locator("#appeal summary").click()
    first = agent.locator("input[name=appeal_item]").first
    item_id = first.get_attribute("value")
    first.check()
    agent.get_by_label(f"Why (for each appealed item) — {item_id}").fill("I did say it")
    agent.get_by_role("button", name="Appeal", exact=True).click()
    expect(agent.get_by_test_id("appeal-sent")).to_be_visible()
    agent.goto("/me")
    expect(agent.get_by_test_id("my-appeals")).to_contain_text("open")

    supervisor = new_page()
    sign_in(supervisor, seeded, "supervisor")
    supervisor.goto("/work")
    appeal = supervisor.locator("form[data-testid^=appeal-]").first
    appeal.get_by_label("Outcome").select_option("overturned")
    appeal.get_by_label("Reason").fill("heard it on the recording")
    shot(supervisor, "resolving")
    appeal.get_by_role("button", name="Resolve").click()
    expect(supervisor.get_by_text("Nothing here.").last).to_be_visible()

    agent.goto("/me")
    expect(agent.get_by_test_id("my-appeals")).to_contain_text("overturned")
    agent.get_by_role("link", name="Open the call").first.click()
    expect(agent.get_by_test_id("timeline")).to_contain_text("appeal")
    agent.get_by_role("button", name="Acknowledge").click()
    expect(agent.get_by_text("Acknowledged").first).to_be_visible()


def test_an_agent_cannot_open_another_agents_call_or_audio(seeded: Any, new_page: Any) -> None:
    page = new_page()
    sign_in(page, seeded, ME)
    other = recording_id(seeded, OTHER)
    answer = page.goto(f"/calls/{other}")
    assert answer is not None and answer.status == 403
    expect(page.get_by_test_id("error")).to_have_text("You may not open this page.")
    audio = page.request.get(f"/calls/{other}/audio?purpose=check")
    assert audio.status == 403
    page.goto("/calls")
    expect(page.get_by_test_id("total")).to_have_text("1")
    # At the service, without a browser: the same answers, and forms without the session's CSRF token are refused.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=seeded.console, cookies=cookies) as client:
        assert client.get(f"/calls/{other}").status_code == 403
        assert client.get(f"/calls/{other}/audio", params={"purpose": "check"}).status_code == 403
        assert client.get(f"/calls/{recording_id(seeded, ME)}/audio", params={"purpose": "check"}).status_code == 200
        eid = seeded.calls[ME]["evaluation"]["id"]
        assert client.post(f"/evaluations/{eid}/acknowledge", data={"csrf": "forged"}).status_code == 403
    with httpx.Client(base_url=seeded.console) as anonymous:
        assert anonymous.get(f"/calls/{other}").status_code == 303


def test_report_dashboard_charts_filters_and_download(seeded: Any, new_page: Any, shot: Any) -> None:
    page = new_page()
    sign_in(page, seeded, "qa")
    page.goto("/reports")
    recording = seeded.calls[ME]["recording"]
    form = page.get_by_test_id("report-form")
    form.get_by_label("Period", exact=True).select_option("monthly")
    form.get_by_label("A day in the period").fill(recording["started_at"][:10])
    form.get_by_label("Group").fill(recording["group"])
    form.get_by_role("button", name="Run a report").click()
    expect(page.get_by_test_id("summary")).to_contain_text("Calls")
    expect(page.get_by_test_id("filters")).to_contain_text(recording["group"])
    # Every chart is drawn (inline SVG from the run's figures): the trend's points, one bar per group, A/B/C,
    # automatic vs human; the forecast says why there is none with a single month of calls.
    expect(page.get_by_test_id("chart-trend").locator("circle.point")).to_have_count(1)
    expect(page.get_by_test_id("chart-groups").locator("rect")).to_have_count(1)
    expect(page.get_by_test_id("chart-problems").locator("rect")).to_have_count(3)
    expect(page.get_by_test_id("chart-sources").locator("rect")).to_have_count(2)
    expect(page.get_by_test_id("forecast")).to_contain_text("No forecast yet")
    width = page.get_by_test_id("chart-groups").locator("rect").first.bounding_box()
    assert width is not None and width["width"] > 0
    shot(page, "dashboard")
    # A period the reporting service refuses: its 422 names the field, shown above the form, which keeps the filters.
    csrf = page.locator("input[name=csrf]").first.input_value()
    refused = page.request.post("/reports", form={"csrf": csrf, "kind": "monthly", "day": "2026-02-30", "group": "x"})
    assert refused.status == 422 and 'data-testid="errors"' in refused.text() and 'value="2026-02-30"' in refused.text()
    with page.expect_download() as download:
        page.locator("a[data-format=csv]").click()
    assert download.value.suggested_filename.endswith(".csv")


def test_calibration_blind_scoring_then_agreement_and_the_leads_reference(
    seeded: Any, new_page: Any, shot: Any
) -> None:
    authority = Authenticator(AuthSettings(jwt_secret=seeded.stack.state().secrets["jwt_secret"]))
    lead = {"Authorization": "Bearer " + authority.issue_token("supervisor", ["supervisor"])}
    evaluations = [seeded.calls[a]["evaluation"]["id"] for a in (ME, OTHER)]
    created = httpx.post(
        f"{seeded.stack.url('coaching')}/v1/calibrations",
        json={"name": "November calibration", "evaluation_ids": evaluations, "analysts": ["qa"]},
        headers=lead,
    )
    assert created.status_code == 201, created.text
    session = created.json()["id"]

    qa = new_page()
    sign_in(qa, seeded, "qa")
    qa.goto("/work")
    qa.get_by_test_id("calibrations").get_by_role("link", name="November calibration").click()
    expect(qa.get_by_test_id("cal-blind")).to_be_visible()
    expect(qa.get_by_test_id("cal-results")).to_have_count(0)
    qa.get_by_role("button", name="Submit my scores").click()
    expect(qa.get_by_test_id("cal-error")).to_contain_text("score every call first")
    for n, evaluation in enumerate(evaluations):
        if n == 0:
            qa.get_by_test_id("cal-calls").get_by_role("link").first.click()
        else:
            qa.goto(f"/calibrations/{session}/calls/{evaluation}")
        form = qa.get_by_test_id("cal-form")
        expect(form).to_be_visible()
        expect(qa.get_by_test_id("transcript")).to_be_visible()
        expect(qa.get_by_test_id("score")).to_have_count(0)  # blind: no automatic score on the page
        for item in form.locator("fieldset").all():
            item.get_by_label("Result").select_option("pass")
            points = item.get_by_label("Points")
            points.fill(points.get_attribute("max") or "0")
        if n == 0:
            shot(qa, "scoring")
        # From the keyboard (a click right after a full-page screenshot can land on a stale layout in chromium).
        form.get_by_role("button", name="Save my scores").press("Enter")
        expect(qa.get_by_test_id("cal-calls")).to_be_visible(timeout=WAIT)
    expect(qa.get_by_test_id("cal-calls")).not_to_contain_text("to score")
    qa.get_by_role("button", name="Submit my scores").click()
    results = qa.get_by_test_id("cal-results")
    expect(results).to_be_visible()
    expect(qa.get_by_test_id("cal-analysts")).to_contain_text("qa")
    expect(qa.get_by_test_id("cal-analysts")).to_contain_text("Automatic scorer")
    expect(qa.get_by_test_id("cal-items").locator("tbody tr").first).to_be_visible()
    # Submitted scores are final: the form is read-only, and coaching's refusal is shown with the item.
    qa.goto(f"/calibrations/{session}/calls/{evaluations[0]}")
    expect(qa.get_by_test_id("cal-form").locator("fieldset").first.get_by_label("Result")).to_be_disabled()
    csrf = qa.locator("input[name=csrf]").first.input_value()
    item = qa.get_by_test_id("cal-form").locator("fieldset").first.get_attribute("data-item")
    form_data = {"csrf": csrf, "item": item, f"result.{item}": "pass", f"points.{item}": "many"}
    answer = qa.request.post(f"/calibrations/{session}/calls/{evaluations[0]}", form=form_data)
    assert answer.status == 422 and "a number of points is needed" in answer.text()
    answer = qa.request.post(
        f"/calibrations/{session}/calls/{evaluations[0]}", form=form_data | {f"points.{item}": "0"}
    )
    assert answer.status == 422 and "final" in answer.text()

    supervisor = new_page()
    sign_in(supervisor, seeded, "supervisor")
    supervisor.goto(f"/calibrations/{session}")
    expect(supervisor.get_by_test_id("cal-results")).to_be_visible()  # the lead sees the session throughout
    supervisor.get_by_test_id("cal-calls").get_by_role("link", name=re.compile("Set the reference")).first.click()
    form = supervisor.get_by_test_id("cal-form")
    for item_set in form.locator("fieldset").all():
        item_set.get_by_label("Result").select_option("fail")
        item_set.get_by_label("Points").fill("0")
    form.get_by_role("button", name="Save my scores").click()
    expect(supervisor.get_by_test_id("cal-calls")).to_contain_text("scored")
    supervisor.get_by_role("button", name="Close the session").click()
    expect(supervisor.get_by_test_id("cal-facts")).to_contain_text("closed")
    csrf = supervisor.locator("input[name=csrf]").first.input_value()
    again = supervisor.request.post(f"/calibrations/{session}/close", form={"csrf": csrf})
    assert again.status == 409 and 'data-testid="cal-error"' in again.text(), "coaching's refusal, on the page"
    shot(supervisor, "results")


def test_scorecard_editor_shows_errors_at_their_path(seeded: Any, new_page: Any, shot: Any) -> None:
    page = new_page()
    sign_in(page, seeded, "qa")
    page.goto("/scorecards/default-en")
    editor = page.get_by_label("Scorecard document (JSON)")
    document = json.loads(editor.input_value())
    document["sections"][0]["items"][0]["points"] = -5
    editor.fill(json.dumps(document), timeout=FILL_MS)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("errors")).to_contain_text(re.compile(r"sections\W0\W+items\W0\W+points"))
    expect(editor).to_have_value(re.compile('"points": -5'))  # the edit stays in the editor, to be fixed
    # The error's line, and the cursor taken to it from the keyboard.
    go = page.get_by_role("button", name=re.compile("Go to the field"))
    go.focus()
    page.keyboard.press("Enter")
    expect(editor).to_be_focused()
    selected = editor.evaluate("a => a.value.substring(a.selectionStart, a.selectionEnd)")
    assert '"points": -5' in selected, selected
    shot(page, "error-at-path")
    # The draft (points fixed, not saved) dry-run on a chosen call's transcript.
    editor.fill(editor.input_value().replace('"points": -5', '"points": 1'), timeout=FILL_MS)
    page.get_by_label("Call to dry-run on").select_option(recording_id(seeded, ME))
    page.get_by_role("button", name="Dry-run on a transcript").press("Enter")
    expect(page.get_by_test_id("dry-run")).to_contain_text("%")
    expect(page.get_by_test_id("errors")).to_have_count(0)
    editor.fill("{not json")
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("errors")).to_contain_text("not JSON")
