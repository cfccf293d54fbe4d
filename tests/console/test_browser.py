"""The console in Debian's chromium against a throw-away local stack: sign-in per role, search, the call page
(play, seek from a finding, review with override), an appeal from the agent's side to its resolution, a report
dashboard and a download, the scorecard editor's errors, and that an agent cannot open another agent's call."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow
ME, OTHER = "agent-en-104", "agent-en-112"
WAIT = 30_000


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


def test_report_dashboard_and_download(seeded: Any, new_page: Any) -> None:
    page = new_page()
    sign_in(page, seeded, "qa")
    page.goto("/reports")
    page.get_by_label("Period", exact=True).select_option("monthly")
    page.get_by_label("A day in the period").fill(seeded.calls[ME]["recording"]["started_at"][:10])
    page.get_by_role("button", name="Run a report").click()
    expect(page.get_by_test_id("summary")).to_contain_text("Calls")
    expect(page.get_by_test_id("chart-groups").locator("rect").first).to_be_attached()
    with page.expect_download() as download:
        page.locator("a[data-format=csv]").click()
    assert download.value.suggested_filename.endswith(".csv")


def test_scorecard_editor_shows_errors_at_their_path(seeded: Any, new_page: Any) -> None:
    page = new_page()
    sign_in(page, seeded, "qa")
    page.goto("/scorecards/default-en")
    editor = page.get_by_label("Scorecard document (JSON)")
    document = json.loads(editor.input_value())
    document["sections"][0]["items"][0]["points"] = -5
    editor.fill(json.dumps(document))
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("errors")).to_contain_text(re.compile(r"sections\W0\W+items\W0\W+points"))
    expect(editor).to_have_value(re.compile('"points": -5'))  # the edit stays in the editor, to be fixed
    editor.fill("{not json")
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("errors")).to_contain_text("not JSON")
