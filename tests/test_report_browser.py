"""The report in a real headless Chromium (Debian packages ``chromium`` and ``chromium-driver``).

Skips, saying why, where selenium, the browser or its driver is missing. Set
``MLCHECKS_SCREENSHOTS=DIR`` to keep the screenshots (CI uploads them).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
from pathlib import Path

import pytest
from report_samples import (
    XSS,
    first_version_report,
    history_folder,
    rejected_report,
    two_model_report,
)

from mlchecks.report import build, write_report
from mlchecks.result import CheckResult

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# No network, no first-run UI, no background services: the page must render offline.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,2000",
)
PWNED = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install 'mlchecks[dev]')"
    )
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        pytest.skip(
            "headless Chromium not found (need `chromium` and `chromedriver` on PATH: "
            "apt-get install chromium chromium-driver, as .ci/run does)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # An explicit driver path: selenium's driver manager would try to download one.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def mlp_probs(trained_mlp, digits):
    from mlchecks.model.training import predict

    return predict(trained_mlp.model, digits.x_test)


@pytest.fixture(scope="module")
def cnn_probs(trained_cnn, digits):
    from mlchecks.model.training import predict

    return predict(trained_cnn.model, digits.x_test)


# Geometry in the page: what spills out of its card, what a chart clips, what is squeezed.
SPILLS = """
const out = [];
for (const card of document.querySelectorAll('section')) {
  const box = card.getBoundingClientRect();
  if (card.scrollWidth > card.clientWidth + 1)
    out.push(`${card.id}: scrollWidth ${card.scrollWidth} > clientWidth ${card.clientWidth}`);
  for (const el of card.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    if (el.closest('svg') && tag !== 'svg') continue;
    const r = el.getBoundingClientRect();
    const text = JSON.stringify(el.textContent.slice(0, 40));
    if (r.width && r.right > box.right + 1)
      out.push(`${card.id}: <${tag}> ${text} ends at ${r.right} > card ${box.right}`);
    const scrolls = el.scrollWidth > el.clientWidth + 1 && tag !== 'pre';
    if (scrolls && getComputedStyle(el).overflowX !== 'visible')
      out.push(`${card.id}: <${tag}> scrolls (${el.scrollWidth} > ${el.clientWidth})`);
  }
}
return out;
"""
CLIPPED = """
const out = [];
const outside = (r, b) => r.left < b.left - 0.5 || r.right > b.right + 0.5
                          || r.top < b.top - 0.5 || r.bottom > b.bottom + 0.5;
for (const svg of document.querySelectorAll('svg')) {
  const box = svg.getBoundingClientRect();
  for (const t of svg.querySelectorAll('text'))
    if (outside(t.getBoundingClientRect(), box))
      out.push(`${svg.getAttribute('aria-label')}: ${JSON.stringify(t.textContent)} is clipped`);
}
return out;
"""


def _shoot(chrome, path: Path, width: int = 1280) -> Path:
    """A full-page screenshot into the test's tmp folder (and MLCHECKS_SCREENSHOTS)."""
    height = chrome.execute_script("return document.documentElement.scrollHeight")
    chrome.set_window_size(width, min(max(int(height) + 40, 800), 8000))
    assert chrome.save_screenshot(str(path))
    chrome.set_window_size(width, 2000)
    _keep(path)
    return path


def _ticks(chrome, label: str) -> list[float]:
    from selenium.webdriver.common.by import By

    svg = chrome.find_element(By.CSS_SELECTOR, f'svg[aria-label="{label}"]')
    return [
        float(t.get_attribute("textContent"))
        for t in svg.find_elements(By.CSS_SELECTOR, "text.tick-y")
    ]


def _keep(path: Path) -> None:
    folder = os.environ.get("MLCHECKS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


def _not_blank(path: Path) -> dict[str, float]:
    """Pixel statistics of a screenshot: grey-level spread, colours, red (banner) pixels."""
    import numpy as np

    image_module = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    with image_module.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.int32)
    grey = rgb.mean(axis=2)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)
    return {"stddev": float(grey.std()), "colors": int(np.unique(packed).size),
            "red_pixels": int(red.sum()), "size": rgb.shape[:2]}  # fmt: skip


def test_rejected_run_in_a_real_browser(chrome, digits, mlp_probs, trained_mlp, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    hostile = dataclasses.replace(digits, class_names=(PWNED, *digits.class_names[1:]))
    data, _, _ = rejected_report(hostile, mlp_probs, record=trained_mlp.record, model=XSS)
    page = write_report(data, tmp_path / "reports")
    chrome.get(page.as_uri())

    verdict = chrome.find_element(By.ID, "verdict")
    assert verdict.get_attribute("data-verdict") == "rejected"
    assert "REJECTED" in verdict.text and "2 failed" in verdict.text
    failures = chrome.find_elements(By.CSS_SELECTOR, "#failures li")
    assert [f.text.split(":")[0] for f in failures] == [
        f"accuracy.min [{XSS}]", f"regression.per_class [{XSS}]",
    ]  # fmt: skip
    rows = chrome.find_elements(By.CSS_SELECTOR, "tr.check-row")
    assert len(rows) == len(data.checks) == 5
    assert rows[0].get_attribute("data-check") == "accuracy.min" and "FAIL" in rows[0].text
    assert all("PASS" in r.text for r in rows[2:])
    assert chrome.execute_script(CLIPPED) == []  # e.g. the last version label, "candidate"
    assert chrome.find_elements(By.CSS_SELECTOR, "#flips img")  # flip images decoded
    assert chrome.find_element(By.CSS_SELECTOR, "#flips img").size["width"] == 64

    # Hostile names are text: no script element, no alert, no handler ran.
    assert chrome.find_elements(By.TAG_NAME, "script") == []
    with pytest.raises(NoAlertPresentException):
        chrome.switch_to.alert  # noqa: B018 - the property raises when there is no alert
    assert chrome.execute_script("return window.__pwned") is None
    assert XSS in chrome.find_element(By.CSS_SELECTOR, "tr.check-row td:nth-child(3)").text

    shot = tmp_path / "rejected-run.png"
    assert chrome.save_screenshot(str(shot))
    _keep(shot)
    stats = _not_blank(shot)
    print(f"screenshot {shot}: {stats}")
    assert stats["stddev"] > 20 and stats["colors"] > 50, stats
    assert stats["red_pixels"] > 20_000, stats  # the rejected banner is on screen


def test_history_page_links_to_each_run(chrome, tmp_path):
    from selenium.webdriver.common.by import By

    folder = tmp_path / "reports"
    ok = CheckResult("accuracy.min", "accuracy", True, 0.97, 0.9, "fine", model="mlp")
    bad = dataclasses.replace(ok, passed=False, value=0.5, message="too low")
    write_report(build([ok], name="lineage", run_id="20260101-000000-gate-a"), folder)
    write_report(build([bad], name="lineage", run_id="20260102-000000-gate-b"), folder)
    chrome.get((folder / "index.html").as_uri())
    rows = chrome.find_elements(By.CSS_SELECTOR, "tr.run-row")
    # Both were built now; equal times sort by run id, newest first.
    assert [r.get_attribute("data-run") for r in rows] == [
        "20260102-000000-gate-b", "20260101-000000-gate-a",
    ]  # fmt: skip
    rows[0].find_element(By.TAG_NAME, "a").click()
    assert chrome.find_element(By.ID, "verdict").get_attribute("data-verdict") == "rejected"
    assert chrome.current_url.endswith("20260102-000000-gate-b/index.html")


def test_an_accepted_first_version_reads_accepted(chrome, digits, mlp_probs, trained_mlp, tmp_path):
    from selenium.webdriver.common.by import By

    data = first_version_report(digits, mlp_probs, record=trained_mlp.record)
    chrome.get(write_report(data, tmp_path / "reports").as_uri())
    verdict = chrome.find_element(By.ID, "verdict")
    assert verdict.get_attribute("data-verdict") == "accepted"
    word = verdict.find_element(By.CSS_SELECTOR, ".verdict").text
    assert word.startswith("ACCEPTED"), word  # the verdict first
    circumstance = verdict.find_element(By.CSS_SELECTOR, ".circumstance").text
    assert "first version of lineage digits" in circumstance
    green = verdict.value_of_css_property("background-color")
    assert green in ("rgba(21, 128, 61, 1)", "rgb(21, 128, 61)"), green
    _shoot(chrome, tmp_path / "first-version.png")


def test_nothing_spills_out_of_its_card(chrome, digits, mlp_probs, cnn_probs, trained_mlp,
                                        tmp_path):  # fmt: skip
    from selenium.webdriver.common.by import By

    data = two_model_report(digits, mlp_probs, cnn_probs, mlp_record=trained_mlp.record)
    chrome.get(write_report(data, tmp_path / "reports").as_uri())
    shot = _shoot(chrome, tmp_path / "two-models.png")
    assert chrome.find_element(By.TAG_NAME, "h1").text == "mlchecks report: mlp, cnn"
    assert chrome.execute_script(SPILLS) == [], shot
    chrome.set_window_size(900, 2000)  # a laptop's half screen
    narrow = _shoot(chrome, tmp_path / "two-models-900px.png", width=900)
    assert chrome.execute_script(SPILLS) == [], narrow
    chrome.set_window_size(1280, 2000)
    heads = [th.text for th in chrome.find_elements(By.CSS_SELECTOR, "#speed thead th")]
    assert len(heads) == len(set(heads)), heads  # no two columns headed alike
    messages = chrome.find_elements(By.CSS_SELECTOR, "#speed td.message")
    assert len(messages) == 2
    for cell in messages:  # a readable column, not one word per line
        assert cell.size["width"] >= 220, (cell.size, cell.text)
    assert chrome.execute_script(CLIPPED) == [], shot


def test_charts_have_round_ticks_axis_titles_and_the_expected_plots(
    chrome, digits, mlp_probs, cnn_probs, trained_mlp, tmp_path
):
    from selenium.webdriver.common.by import By

    data = two_model_report(digits, mlp_probs, cnn_probs, mlp_record=trained_mlp.record)
    chrome.get(write_report(data, tmp_path / "reports").as_uri())
    _shoot(chrome, tmp_path / "charts.png")
    accuracy = _ticks(chrome, "mlp: accuracy per epoch")
    assert accuracy and min(accuracy) >= 0 and max(accuracy) <= 1, accuracy
    for label in ("mlp: accuracy per epoch", "mlp: loss per epoch"):
        ticks = _ticks(chrome, label)
        assert all(round(t, 2) == t for t in ticks), (label, ticks)  # round values
        steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1, (label, ticks)  # evenly spaced
    for svg in chrome.find_elements(By.CSS_SELECTOR, "section svg"):
        titles = svg.find_elements(By.CSS_SELECTOR, "text.axis-title")
        assert titles, f"{svg.get_attribute('aria-label')}: no axis title"
    # a reliability diagram per model, drift as reference and current histograms
    reliability = chrome.find_elements(By.CSS_SELECTOR, "#calibration svg")
    assert [s.get_attribute("aria-label") for s in reliability] == [
        "mlp: reliability diagram", "cnn: reliability diagram",
    ]  # fmt: skip
    assert chrome.find_elements(By.CSS_SELECTOR, "#calibration svg rect.bin")
    histograms = chrome.find_elements(By.CSS_SELECTOR, "#drift svg")
    assert len(histograms) >= 8
    first = histograms[0]
    assert first.find_elements(By.CSS_SELECTOR, ".hist-reference")
    assert first.find_elements(By.CSS_SELECTOR, ".hist-current")
    absent = chrome.find_element(By.ID, "absent").text
    assert "no training curves for cnn: the candidate was given as a .keras file" in absent
    assert chrome.execute_script(CLIPPED) == []


def test_history_page_badges_filters_and_trends(chrome, tmp_path):
    from selenium.webdriver.common.by import By

    folder = tmp_path / "reports"
    runs = history_folder(folder)
    chrome.get((folder / "index.html").as_uri())
    shot = _shoot(chrome, tmp_path / "history.png")
    rows = {
        r.get_attribute("data-run"): r for r in chrome.find_elements(By.CSS_SELECTOR, "tr.run-row")
    }
    assert set(rows) == set(runs)
    badged = {run for run, row in rows.items() if "first version" in row.text}
    assert badged == {"r3-first", "r6-other"}, badged  # pytest and --no-promote runs are not
    for run, row in rows.items():
        verdict = row.find_element(By.CSS_SELECTOR, ".status").text
        assert verdict == ("rejected" if run == "r5-rejected" else "accepted"), (run, verdict)
    failing = rows["r5-rejected"].find_element(By.CSS_SELECTOR, "td.failing")
    assert all(i in failing.text for i in ("accuracy.min", "speed.training")), failing.text
    assert chrome.execute_script(SPILLS) == [], shot
    chrome.set_window_size(900, 2000)
    narrow = _shoot(chrome, tmp_path / "history-900px.png", width=900)
    assert chrome.execute_script(SPILLS) == [], narrow
    chrome.set_window_size(1280, 2000)
    # the accuracy trend across versions, one chart per lineage
    trend = chrome.find_elements(By.CSS_SELECTOR, "#trend svg")
    assert [s.get_attribute("aria-label") for s in trend] == [
        "digits: accuracy per run", "fashion: accuracy per run",
    ]  # fmt: skip
    assert chrome.execute_script(CLIPPED) == []
    # the lineage filter (no script on the page: radio buttons and CSS)
    chrome.find_element(By.CSS_SELECTOR, 'label[data-lineage="fashion"]').click()
    rows = chrome.find_elements(By.CSS_SELECTOR, "tr.run-row")
    assert [r.get_attribute("data-run") for r in rows if r.is_displayed()] == ["r6-other"]
    chrome.find_element(By.CSS_SELECTOR, 'label[data-lineage=""]').click()
    assert all(r.is_displayed() for r in chrome.find_elements(By.CSS_SELECTOR, "tr.run-row"))
    _shoot(chrome, tmp_path / "history-all.png")
