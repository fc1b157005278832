"""The web page's Live tab in a real browser (Debian's chromium through Playwright) over the real stack.

Chromium's fake microphone plays an espeak-ng recording (two English sentences between pauses, looped by the
browser); the page captures it with its AudioWorklet, streams LINEAR16 at 16 kHz to ``/v1/stream`` with the API
key in the query, shows partials and finals (with their live German "translations" from the scripted translation
server), and after Stop links to the saved job, which the page then opens."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.gateway_stack import Services, gateway_settings, running_gateway
from tests.integration.llm_fault_server import echo_text
from tests.integration.test_gateway_speakers import espeak_or_skip
from ting_common.audio import decode_audio, encode_wav
from ting_common.scoring import error_rate

pytestmark = pytest.mark.e2e

SCREENSHOT = Path("/tmp/live_tab.png")
KEY = "live-test-key"
SENTENCES = (
    "Good morning, the weather today is sunny and warm in the city.",
    "Tomorrow we will meet at the train station after lunch.",
)
RATE = 48_000  # what a microphone gives; the page's worklet brings it down to 16 kHz
LEAD_S, GAP_S, TAIL_S = 1.0, 1.0, 1.5  # silence before, between and after the sentences
# Whisper base reads these sentences right offline whatever the lead-in before each (0.05-0.3 s), and got WER 0
# through the page in repeated runs; the bound leaves room for a few words that a cut of the stream's VAD may
# cost, while a broken capture (wrong rate, lost or reordered frames) is far above it. (Not "The weather
# today...": cut 0.15 s before its onset Whisper base hears "but whenever today".)
MAX_WER = 0.25

# Installed before the page's scripts: records what the user saw while recording (partials come and go).
RECORDER = """
window.__live = { partials: [], interimStyles: [], states: [], maxLevel: 0 };
document.addEventListener("DOMContentLoaded", () => {
  const seen = window.__live;
  const interim = document.querySelector("#live-interim");
  new MutationObserver(() => {
    const text = interim.hidden ? "" : interim.querySelector(".live-text").textContent.trim();
    if (!text || seen.partials[seen.partials.length - 1] === text) return;
    seen.partials.push(text);
    const style = getComputedStyle(interim.querySelector(".live-text"));
    seen.interimStyles.push(`${style.fontStyle} ${style.color}`);
  }).observe(interim, { subtree: true, childList: true, characterData: true, attributes: true });
  const status = document.querySelector("#live-status");
  new MutationObserver(() => {
    if (seen.states[seen.states.length - 1] !== status.dataset.state) seen.states.push(status.dataset.state);
  }).observe(status, { attributes: true, attributeFilter: ["data-state"] });
  const level = document.querySelector("#live-level");
  new MutationObserver(() => {
    seen.maxLevel = Math.max(seen.maxLevel, Number(level.getAttribute("aria-valuenow")));
  }).observe(level, { attributes: true, attributeFilter: ["aria-valuenow"] });
});
"""

FINALS = """() => [...document.querySelectorAll("#live-log .live-line[data-utterance]")].map((line) => ({
  utterance: line.dataset.utterance, start: Number(line.dataset.start), end: Number(line.dataset.end),
  text: line.querySelector(".live-text").textContent,
  translations: Object.fromEntries([...line.querySelectorAll(".live-translations li")].map(
    (li) => [li.dataset.language, li.querySelector(".live-translation").textContent])),
}))"""


@dataclass(frozen=True)
class Speech:
    """The fake microphone's file and where its sentences lie (seconds from the file's start)."""

    path: Path
    text: str
    last_end_s: float  # where the last sentence ends
    duration_s: float  # one loop of the file


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    """Both sentences spoken by espeak-ng, at 48 kHz mono 16-bit, between pauses (about 10 s)."""
    espeak = espeak_or_skip()
    folder = tmp_path_factory.mktemp("live-speech")
    pieces = [np.zeros(int(LEAD_S * RATE), np.float32)]
    at = LEAD_S
    for index, sentence in enumerate(SENTENCES):
        spoken = folder / f"{index}.wav"
        subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(spoken), sentence], check=True)
        samples = decode_audio(str(spoken), target_sample_rate=RATE).samples
        if index:
            pieces.append(np.zeros(int(GAP_S * RATE), np.float32))
            at += GAP_S
        pieces.append(samples)
        at += len(samples) / RATE
    pieces.append(np.zeros(int(TAIL_S * RATE), np.float32))
    path = folder / "speech.wav"
    path.write_bytes(encode_wav(np.concatenate(pieces), RATE))
    return Speech(path=path, text=" ".join(SENTENCES), last_end_s=at, duration_s=at + TAIL_S)


@pytest.fixture(scope="module")
async def gateway(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    settings = gateway_settings(services, tmp_path_factory.mktemp("gw-live"), link_secret="l" * 32, api_keys=KEY)
    async with running_gateway(settings) as app:
        yield app


@pytest.fixture(scope="module")
async def browser(chromium_path: Path, speech: Speech) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium_path),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-background-networking",
                "--use-fake-ui-for-media-stream",  # grant the microphone without asking
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={speech.path}",  # played (and looped) as the microphone
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def test_live_tab_transcribes_the_microphone_and_saves_a_job(browser: Any, gateway: Any, speech: Speech) -> None:
    base = f"http://127.0.0.1:{gateway.http_port}"
    context = await browser.new_context(viewport={"width": 1200, "height": 1000})
    await context.add_init_script(f"localStorage.setItem('ting.apiKey', '{KEY}')")
    await context.add_init_script(RECORDER)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))

    await page.goto(base + "/")
    assert await page.is_visible("#job-form") and await page.is_hidden("#live-panel")
    await page.click("#tab-live")
    assert await page.is_hidden("#job-form") and await page.is_visible("#live-panel")
    assert await page.get_attribute("#tab-live", "aria-selected") == "true"
    await page.select_option("#live-language", "en")
    await page.check("input[name=live-translate][value=de]")
    await page.click("#live-start")
    await page.wait_for_selector("#live-status[data-state=listening], #live-status[data-state=speech]")
    assert await page.is_enabled("#live-stop") and await page.is_disabled("#live-start")

    # The first loop of the file is in once a final reaches into the last sentence; then Stop.
    await page.wait_for_function(
        """([loop, last]) => document.querySelector("#live-status").dataset.state === "error"
            || [...document.querySelectorAll("#live-log .live-line[data-utterance]")].some(
                (line) => Number(line.dataset.start) < loop && Number(line.dataset.end) > last)""",
        arg=[speech.duration_s, speech.last_end_s - 1.0],
        timeout=120_000,
    )
    assert await page.text_content("#live-error") == "", await page.text_content("#live-error")
    await page.screenshot(path=str(SCREENSHOT.with_name("live_tab_recording.png")), full_page=True)
    await page.click("#live-stop")
    await page.wait_for_selector("#live-job-link", timeout=120_000)
    assert await page.get_attribute("#live-status", "data-state") == "saved"
    assert await page.is_enabled("#live-start") and await page.is_disabled("#live-stop")
    assert await page.is_hidden("#live-interim")  # no partial left over once everything is final
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    assert sockets and sockets[0] == f"ws://127.0.0.1:{gateway.http_port}/v1/stream?api_key={KEY}", sockets
    finals: list[dict[str, Any]] = await page.evaluate(FINALS)
    first_loop = [f for f in finals if f["start"] < speech.duration_s - TAIL_S / 2]
    heard = " ".join(f["text"] for f in first_loop)
    wer = error_rate(speech.text, heard)
    assert wer <= MAX_WER, f"WER {wer:.3f} > {MAX_WER}: heard {heard!r} (all finals: {finals})"
    for final in finals:  # each final's live translation sits on its line (the scripted server's echo)
        assert final["translations"] == {"de": echo_text("de", final["text"])}, final
    seen: dict[str, Any] = await page.evaluate("window.__live")
    assert seen["partials"], f"no partial was shown (finals: {finals})"
    assert all(style.startswith("italic") for style in seen["interimStyles"]), seen["interimStyles"]
    assert "speech" in seen["states"] and "listening" in seen["states"], seen["states"]
    assert seen["maxLevel"] > 30, seen  # espeak at about -20 dBFS; silence reads 0
    print(f"live WER {wer:.3f} over {len(first_loop)} finals: {heard!r}; partials seen: {len(seen['partials'])}")

    # The link opens the saved job in the page's job view: its transcript has the speech.
    await page.click("#live-job-link")
    await page.wait_for_selector("#result:not([hidden])", timeout=120_000)
    assert "succeeded" in (await page.text_content("#job-state") or "")
    assert "German" in (await page.text_content("#trans-head") or "")
    rows = await page.locator("#transcript tbody tr").evaluate_all(
        "(rows) => rows.map((row) => [Number(row.dataset.start), row.querySelector('td.original').textContent])"
    )
    saved = " ".join(text for start, text in rows if start < (speech.duration_s - TAIL_S / 2) * 1000)
    saved_wer = error_rate(speech.text, saved)
    assert saved_wer <= MAX_WER, f"saved job's WER {saved_wer:.3f}: {saved!r} (rows: {rows})"
    await page.screenshot(path=str(SCREENSHOT.with_name("live_tab_job.png")), full_page=True)
    assert not problems, problems
    await context.close()


async def test_live_tab_reports_a_refused_key(browser: Any, gateway: Any) -> None:
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    await context.add_init_script("localStorage.setItem('ting.apiKey', 'not-the-key')")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"http://127.0.0.1:{gateway.http_port}/")
    await page.focus("#tab-upload")
    await page.keyboard.press("ArrowRight")  # the tabs follow the arrow keys
    assert await page.is_visible("#live-panel") and await page.is_hidden("#job-form")
    assert await page.evaluate("document.activeElement.id") == "tab-live"
    await page.click("#live-start")
    await page.wait_for_selector("#live-status[data-state=error]", timeout=30_000)
    message = await page.text_content("#live-error") or ""
    assert "UNAUTHENTICATED" in message, message
    assert await page.is_visible("#settings[open]")  # where the key is entered
    assert await page.is_enabled("#live-start") and await page.is_disabled("#live-stop")
    assert await page.locator("#live-log .live-line").count() == 0
    assert not errors, errors
    await context.close()
