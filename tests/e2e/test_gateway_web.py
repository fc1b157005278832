"""The gateway's web page in a real browser (Debian's chromium through Playwright) over the real stack: upload the
Spanish sample with an English translation and a summary, watch it finish, read the results, open the share link;
and a three-voice clip with Speakers ticked: chips, the timeline over the waveform, naming a speaker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import Services, gateway_settings, running_gateway
from tests.integration.test_gateway_speakers import espeak_or_skip, multi_voice_wav

pytestmark = pytest.mark.e2e

SCREENSHOT = Path("/tmp/ting-web.png")
SPEAKERS_SCREENSHOT = Path("/tmp/ting-web-speakers.png")
KEY = "web-test-key"


@pytest.fixture(scope="module")
async def gateway(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    settings = gateway_settings(services, tmp_path_factory.mktemp("gw-web"), link_secret="w" * 32, api_keys=KEY)
    async with running_gateway(settings) as app:
        yield app


@pytest.fixture(scope="module")
async def browser(chromium_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium_path),
            args=["--headless", "--no-sandbox", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def test_upload_translate_summarize_and_share(browser: Any, gateway: Any) -> None:
    base = f"http://127.0.0.1:{gateway.http_port}"
    context = await browser.new_context(viewport={"width": 1200, "height": 1000})
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)

    await page.goto(base + "/")
    await page.wait_for_selector("#settings[open]")  # the gateway has keys: the page asks for one
    assert "API key" in (await page.text_content("#recent tbody") or "")
    problems.clear()  # the browser logs the 401 that told the page so
    await page.fill("#api-key", KEY)
    await page.click("#save-key")
    await page.set_input_files("#file", str(SAMPLES / "es_weather.wav"))
    assert await page.text_content("#file-name") == "es_weather.wav"
    await page.check("input[name=translate][value=en]")
    await page.check("#summarize")
    await page.click("#submit")

    await page.wait_for_selector("#progress-card:not([hidden])")
    await page.wait_for_selector("#result:not([hidden])", timeout=180_000)
    assert "succeeded" in (await page.text_content("#job-state") or "")
    assert (await page.get_attribute(".bar", "aria-valuenow")) == "100"
    rows = page.locator("#transcript tbody tr")
    assert await rows.count() >= 1
    original = " ".join(await page.locator("#transcript td.original").all_text_contents()).lower()
    translated = " ".join(await page.locator("#transcript td.translation").all_text_contents()).lower()
    assert "madrid" in original and "buenos" in original, original
    assert "madrid" in translated and translated != original, translated
    assert "English" in (await page.text_content("#trans-head") or "")
    summary = await page.text_content("#summary") or ""
    assert await page.is_visible("#summary-card") and len(summary.strip()) > 20, summary
    links = await page.locator("#downloads a").evaluate_all("(as) => as.map(a => a.getAttribute('download'))")
    assert {"transcript.srt", "transcript.vtt", "translation.en.srt", "summary.txt"} <= set(links), links
    recent = await page.text_content("#recent tbody") or ""
    assert "es_weather.wav" in recent

    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.click("#share")
    await page.wait_for_selector("#share-out:not([hidden])")
    share_url = await page.get_attribute("#share-link", "href") or ""
    assert "/s/" in share_url and "sig=" in share_url, share_url
    assert "Copied" in (await page.text_content("#share-out") or "")
    assert await page.evaluate("navigator.clipboard.readText()") == share_url
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert not problems, problems

    # The shared view in a fresh context: no key, read-only, same results.
    viewer = await browser.new_context(viewport={"width": 1000, "height": 900})
    shared = await viewer.new_page()
    await shared.goto(share_url)
    await shared.wait_for_selector("#result:not([hidden])", timeout=30_000)
    assert await shared.is_hidden("#upload-card") and await shared.is_hidden("#recent-card")
    assert await shared.is_hidden("#share") and await shared.is_visible("#shared-note")
    shared_original = " ".join(await shared.locator("#transcript td.original").all_text_contents()).lower()
    assert shared_original == original
    assert await shared.locator("#transcript td.translation").count() == await rows.count()
    assert await shared.is_visible("#summary-card")
    await shared.screenshot(path=str(SCREENSHOT.with_name("ting-web-shared.png")), full_page=True)
    await viewer.close()
    await context.close()


TIMELINE_INK = """(canvas) => {
    // Pixels of the waveform area (the top 100 CSS px) that are not blank, and how many distinct colours.
    const ratio = canvas.width / canvas.clientWidth;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, Math.round(100 * ratio)).data;
    let inked = 0;
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 200) { inked++; colours.add(`${data[i] >> 4},${data[i + 1] >> 4},${data[i + 2] >> 4}`); }
    }
    return { inked, colours: colours.size, total: data.length / 4 };
}"""


async def test_speakers_timeline_and_names(browser: Any, gateway: Any, tmp_path: Path) -> None:
    clip = tmp_path / "meeting.wav"
    clip.write_bytes(multi_voice_wav(espeak_or_skip()))
    base = f"http://127.0.0.1:{gateway.http_port}"
    context = await browser.new_context(viewport={"width": 1200, "height": 1000})
    await context.add_init_script(f"localStorage.setItem('ting.apiKey', '{KEY}')")
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)

    await page.goto(base + "/")
    await page.set_input_files("#file", str(clip))
    await page.uncheck("#summarize")
    assert await page.is_disabled("#speaker-count")
    await page.check("#diarize")
    assert await page.is_enabled("#speaker-count")
    await page.click("#submit")
    await page.wait_for_selector("#result:not([hidden])", timeout=240_000)
    assert "succeeded" in (await page.text_content("#job-state") or "")

    # Chips in the table, one colour per speaker, S1 first.
    await page.wait_for_selector("#speakers-card:not([hidden])")
    assert await page.is_visible("#speaker-head")
    chips = page.locator("#transcript td.who .chip")
    labels = await chips.all_text_contents()
    assert labels and labels[0] == "S1" and 2 <= len(set(labels)) <= 4, labels
    pairs = await chips.evaluate_all("(cs) => cs.map(c => [c.dataset.speaker, getComputedStyle(c).backgroundColor])")
    colour_of = dict(pairs)
    assert len(set(map(tuple, pairs))) == len(colour_of) == len(set(colour_of.values())), pairs  # stable, distinct
    legend = page.locator("#speakers tbody tr")
    assert await legend.count() == len(set(labels))
    first = await legend.first.text_content() or ""
    assert "S1" in first and "%" in first, first

    # The timeline: turns as bands at once, then the decoded recording's waveform over them.
    timeline = page.locator("#timeline[data-state=waveform]")
    await timeline.wait_for(timeout=30_000)
    assert int(await timeline.get_attribute("data-turns") or 0) >= 2
    assert 10 < float(await timeline.get_attribute("data-duration") or 0) < 60
    ink = await page.eval_on_selector("#timeline", TIMELINE_INK)
    assert ink["inked"] > ink["total"] * 0.05 and ink["colours"] >= 2, ink

    # Name S1: the table, the legend's chip and the downloads follow.
    await page.fill("#speakers input.speaker-name[data-speaker=S1]", "Alice")
    await page.click("#save-speakers")
    await page.wait_for_selector("#speakers-status:has-text('Saved')")
    assert (await chips.first.text_content()) == "Alice"
    assert await chips.first.get_attribute("title") == "S1"
    assert await page.input_value("#speakers input.speaker-name[data-speaker=S1]") == "Alice"
    vtt_url = await page.get_attribute("#downloads a[download='transcript.vtt']", "href") or ""
    vtt = await page.evaluate("async (url) => (await fetch(url)).text()", vtt_url)
    assert "<v Alice>" in vtt, vtt
    await page.screenshot(path=str(SPEAKERS_SCREENSHOT), full_page=True)
    assert not problems, problems

    # Read-only share view: speakers, names and timeline, but no rename control.
    share_url = await page.evaluate(
        "async (id) => (await (await fetch(`/v1/jobs/${id}/share`, "
        "{headers: {Authorization: 'Bearer ' + localStorage.getItem('ting.apiKey')}})).json()).url",
        await page.evaluate("current.id"),
    )
    viewer = await browser.new_context(viewport={"width": 1000, "height": 900})
    shared = await viewer.new_page()
    shared.on("pageerror", lambda exc: problems.append(f"shared page error: {exc}"))
    await shared.goto(share_url)
    await shared.wait_for_selector("#timeline[data-state=waveform]", timeout=30_000)
    assert await shared.is_hidden("#rename-actions") and await shared.locator("input.speaker-name").count() == 0
    assert (await shared.locator("#transcript td.who .chip").first.text_content()) == "Alice"
    await shared.screenshot(path=str(SPEAKERS_SCREENSHOT.with_name("ting-web-speakers-shared.png")), full_page=True)
    assert not problems, problems
    await viewer.close()
    await context.close()
