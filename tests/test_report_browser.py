"""The report in a real headless Chromium (Debian packages ``chromium`` and ``chromium-driver``).

Skips, saying why, where selenium, the browser or its driver is missing. Set
``MLCHECKS_SCREENSHOTS=DIR`` to keep the screenshots (CI uploads them).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from report_samples import XSS, rejected_report

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
