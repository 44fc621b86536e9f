"""The page of `python -m pipeline serve` in a real browser: headless Chromium driven by Selenium against the
real server (a subprocess serving the tiny session runs, with an API key), one panel per task.

Needs Debian's `chromium` and `chromium-driver` (skips without them); Selenium never downloads a driver.
Each panel's screenshot goes to the test's tmp_path, and also to $PIPELINE_SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.serve_process import serve_process

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
API_KEY = "browser-test-key"
READY_TIMEOUT_S = 180
WAIT_S = 60  # one model call on a busy two-core machine, with room to spare
REVIEW = "A great movie, the actors were wonderful and the story was brilliant."
SENTENCE = "we are eating bread"
PROMPT = "the "


class Server:
    """The running server's address, plus JSON calls that bypass any proxy settings."""

    def __init__(self, url: str, runs: dict[str, Path]):
        self.url = url
        self.runs = runs
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body: dict | None = None, key: str | None = API_KEY):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=WAIT_S) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


@pytest.fixture(scope="module")
def browser_paths() -> None:
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.is_file():
            pytest.skip(
                f"{path} is missing (Debian package {package}): apt-get install chromium chromium-driver"
            )


@pytest.fixture(scope="module")
def server(browser_paths, served_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """`python -m pipeline serve` on a free port, ready (GET /readyz 200), terminated afterwards."""
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    runs = served_runs
    args = [
        "--run", runs["tfidf"], "--run", runs["transformer"], "--run", runs["translator"], "--run", runs["lm"],
        "--vectors", runs["vectors"], "--host", "127.0.0.1", "--api-key", API_KEY,
    ]  # fmt: skip
    with serve_process(
        *args, log_path=log_path, env={"TF_CPP_MIN_LOG_LEVEL": "3"}, ready_timeout=READY_TIMEOUT_S
    ) as (
        _,
        url,
    ):
        yield Server(url, runs)


@pytest.fixture(scope="module")
def driver(browser_paths, tmp_path_factory: pytest.TempPathFactory):
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-proxy-server", "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):  # fmt: skip
        options.add_argument(argument)
    with pytest.MonkeyPatch.context() as patch:
        # Selenium Manager is not used (the driver's path is given); offline all the same.
        patch.setenv("SE_OFFLINE", "true")
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(WAIT_S)
    browser.set_script_timeout(WAIT_S)
    try:
        yield browser
    finally:
        browser.quit()


def _wait(driver, condition, message: str, timeout: float = WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda _: condition(), message)


@pytest.fixture(scope="module")
def page(server: Server, driver):
    """The page, opened once for the whole module: the key asked for (401), given, the panels loaded."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    driver.get(server.url + "/")
    key_form = driver.find_element(By.ID, "key-form")
    _wait(driver, key_form.is_displayed, "the page did not ask for the API key")
    assert "401" in driver.find_element(By.ID, "page-error").text
    driver.find_element(By.ID, "api-key").send_keys(API_KEY + "\n")
    _wait(
        driver,
        lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true",
        "no panels",
    )
    assert not driver.find_element(By.ID, "page-error").is_displayed()
    return driver


def _panel(page, model: str):
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    return page.find_element(By.CSS_SELECTOR, f'section.panel[data-model="{model}"]')


def _screenshot(element, name: str, tmp_path: Path) -> None:
    """An element's PNG into tmp_path, and into $PIPELINE_SCREENSHOT_DIR when set."""
    _save(element.screenshot_as_png, name, tmp_path)


def _save(png: bytes, name: str, tmp_path: Path) -> None:
    (tmp_path / f"{name}.png").write_bytes(png)
    target = os.environ.get("PIPELINE_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / f"{name}.png").write_bytes(png)


def test_page_asks_for_the_key_and_keeps_it_in_memory_only(page, server: Server):
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    status, body = server.call("GET", "/v1/models", key=None)
    assert status == 401 and body["error"], body
    status, models = server.call("GET", "/v1/models")
    assert status == 200, models
    shown = {
        (p.get_attribute("data-model"), p.get_attribute("data-task"))
        for p in page.find_elements(By.CSS_SELECTOR, "section.panel")
    }
    expected = {(m["name"], m["task"]) for m in models["models"]} | {
        (v["name"], "vectors") for v in models["vectors"]
    }
    assert shown == expected
    assert {task for _, task in shown} == {"sentiment", "translation", "language_model", "vectors"}
    assert page.execute_script("return window.localStorage.length + window.sessionStorage.length") == 0
    assert page.execute_script("return document.cookie") == ""
    assert page.get_cookies() == []


def test_errors_show_in_their_panel(page, server: Server):
    """Run before the panel tests, which then show every panel working again after its error."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    # An API error (4xx with {"error", "field"}): a word the vectors do not have.
    status, models = server.call("GET", "/v1/models")
    vectors = _panel(page, models["vectors"][0]["name"])
    word = vectors.find_element(By.CSS_SELECTOR, "input.word")
    word.clear()
    word.send_keys("notaword\n")
    error = vectors.find_element(By.CSS_SELECTOR, ".error")
    _wait(page, lambda: error.is_displayed() and error.text, "no error line in the vectors panel")
    status, body = server.call(
        "POST", f"/v1/vectors/{models['vectors'][0]['name']}/neighbors", {"word": "notaword"}
    )
    assert 400 <= status < 500 and body["error"], body
    assert re.match(rf"Error {status}: ", error.text) and body["error"] in error.text, error.text

    # An empty review is answered with a skip reason, shown in the sentiment panel's error line.
    sentiment = _panel(page, server.runs["transformer"].name)
    review = sentiment.find_element(By.CSS_SELECTOR, ".input")
    review.clear()
    sentiment.find_element(By.CSS_SELECTOR, "button.run").click()
    error = sentiment.find_element(By.CSS_SELECTOR, ".error")
    _wait(
        page, lambda: error.is_displayed() and "empty text" in error.text, "no skip reason for an empty text"
    )

    # A value the API refuses (422): a length over the maximum in the language model panel.
    lm = _panel(page, server.runs["lm"].name)
    length = lm.find_element(By.CSS_SELECTOR, ".length")
    page.execute_script("arguments[0].removeAttribute('max'); arguments[0].value = '999999'", length)
    lm.find_element(By.CSS_SELECTOR, "button.run").click()
    error = lm.find_element(By.CSS_SELECTOR, ".error")
    _wait(
        page,
        lambda: error.is_displayed() and error.text.startswith("Error 4"),
        "no error for a refused length",
    )
    assert "length" in error.text

    # The page is still whole (the panel tests below then show each panel recovering).
    assert len(page.find_elements(By.CSS_SELECTOR, "section.panel")) == len(models["models"]) + len(
        models["vectors"]
    )


@pytest.mark.parametrize("run", ["tfidf", "transformer"])
def test_sentiment_panel(page, server: Server, run: str, tmp_path: Path):
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    name = server.runs[run].name
    panel = _panel(page, name)
    assert panel.get_attribute("data-task") == "sentiment"
    review = panel.find_element(By.CSS_SELECTOR, ".input")
    review.clear()
    review.send_keys(REVIEW)
    panel.find_element(By.CSS_SELECTOR, "button.run").click()
    label = panel.find_element(By.CSS_SELECTOR, ".label")
    _wait(page, lambda: label.text and panel.get_attribute("data-state") == "done", "no label")
    status, answer = server.call("POST", f"/v1/models/{name}/predict", {"texts": [REVIEW], "explain": True})
    assert status == 200, answer
    expected = answer["results"][0]
    assert label.text == expected["label"] and label.text in {"negative", "positive"}
    assert panel.find_element(By.CSS_SELECTOR, ".probability").text.startswith(
        f"{expected['probability']:.3f}"
    )
    assert not panel.find_element(By.CSS_SELECTOR, ".error").is_displayed()
    tokens = panel.find_elements(By.CSS_SELECTOR, ".tokens .token")
    assert len(tokens) == len(expected["explanation"]["tokens"]) > 0
    shaded = [t for t in tokens if "rgba" in (t.get_attribute("style") or "")]
    assert shaded, "no token is shaded"
    for token, contribution in zip(tokens, expected["explanation"]["contributions"], strict=True):
        sign = "positive" if contribution > 0 else "negative" if contribution < 0 else "zero"
        assert sign in token.get_attribute("class").split(), (token.text, contribution)
    _screenshot(panel, f"serve-sentiment-{run}", tmp_path)


def test_translation_panel(page, server: Server, tmp_path: Path):
    from selenium.webdriver.common.action_chains import ActionChains  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import Select  # noqa: PLC0415

    name = server.runs["translator"].name
    panel = _panel(page, name)
    sentence = panel.find_element(By.CSS_SELECTOR, ".input")
    sentence.clear()
    sentence.send_keys(SENTENCE)
    panel.find_element(By.CSS_SELECTOR, "button.run").click()
    _wait(page, lambda: panel.find_elements(By.CSS_SELECTOR, "table.heatmap td.cell"), "no heatmap")
    status, answer = server.call(
        "POST", f"/v1/models/{name}/translate", {"sentences": [SENTENCE], "attention": True}
    )
    assert status == 200, answer
    expected = answer["results"][0]
    attention = expected["attention"]
    assert panel.find_element(By.CSS_SELECTOR, ".output").text == expected["translation"]
    sources, outputs = attention["source_tokens"], attention["output_tokens"]
    assert len(panel.find_elements(By.CSS_SELECTOR, "td.cell")) == len(sources) * len(outputs) > 0
    assert [th.text for th in panel.find_elements(By.CSS_SELECTOR, "th.out")] == outputs
    assert len(panel.find_elements(By.CSS_SELECTOR, "th.src")) == len(sources)

    # The Transformer's [layer][head][output][source] weights: the pickers re-render one layer's head.
    weights = attention["weights"]
    assert len(weights) == attention["layers"] and len(weights[0]) == attention["heads"]
    layer, head = (
        Select(panel.find_element(By.CSS_SELECTOR, "select.layer")),
        Select(panel.find_element(By.CSS_SELECTOR, "select.head")),
    )
    assert len(layer.options) == attention["layers"] and len(head.options) == attention["heads"] + 1  # + mean
    table = panel.find_element(By.CSS_SELECTOR, "table.heatmap")
    layer.select_by_value("0")
    head.select_by_value(str(attention["heads"] - 1))
    _wait(
        page, lambda: panel.find_element(By.CSS_SELECTOR, "table.heatmap") != table, "the map was not redrawn"
    )
    cells = panel.find_elements(By.CSS_SELECTOR, "td.cell")
    assert len(cells) == len(sources) * len(outputs)
    chosen = weights[0][attention["heads"] - 1]
    for cell in cells:
        o, s = int(cell.get_attribute("data-out")), int(cell.get_attribute("data-src"))
        assert float(cell.get_attribute("data-weight")) == pytest.approx(chosen[o][s], abs=1e-6)

    # Hovering a cell highlights its output word and its source word.
    cell = cells[-1]
    ActionChains(page).move_to_element(cell).perform()
    _wait(page, lambda: len(panel.find_elements(By.CSS_SELECTOR, "th.hl")) == 2, "no highlight on hover")
    highlighted = {
        th.get_attribute("class").split()[0]: th.text for th in panel.find_elements(By.CSS_SELECTOR, "th.hl")
    }
    assert highlighted == {"out": outputs[-1], "src": sources[-1]}
    _screenshot(panel, "serve-translation", tmp_path)


def test_language_model_panel_streams(page, server: Server, tmp_path: Path):
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    name = server.runs["lm"].name
    panel = _panel(page, name)
    length = 120
    fields = {".input": PROMPT, ".temperature": "0.8", ".top-k": "5", ".length": str(length)}
    for selector, value in fields.items():
        control = panel.find_element(By.CSS_SELECTOR, selector)
        control.clear()
        control.send_keys(value)
    output = panel.find_element(By.CSS_SELECTOR, ".output")
    page.execute_script("arguments[0].dataset.state = ''", output)  # not the state an earlier test left
    panel.find_element(By.CSS_SELECTOR, "button.run").click()
    seen: list[int] = []  # token events counted while streaming (informative: timing decides how many)

    def finished() -> bool:
        seen.append(int(output.get_attribute("data-tokens") or 0))
        return output.get_attribute("data-state") in {"done", "error"}

    _wait(page, finished, "the stream did not finish")
    assert not panel.find_element(By.CSS_SELECTOR, ".error").is_displayed()
    assert output.get_attribute("data-state") == "done"
    tokens = int(output.get_attribute("data-tokens"))
    assert 1 < tokens <= length, tokens
    assert seen == sorted(seen)  # the count only grows
    generated = panel.find_element(By.CSS_SELECTOR, ".generated").get_attribute("textContent")
    assert panel.find_element(By.CSS_SELECTOR, ".prompt").get_attribute("textContent") == PROMPT
    assert len(generated) > 1
    assert output.get_attribute("textContent") == PROMPT + generated
    _screenshot(panel, "serve-language-model", tmp_path)


def test_vectors_panel(page, server: Server, tmp_path: Path):
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    status, models = server.call("GET", "/v1/models")
    name = models["vectors"][0]["name"]
    panel = _panel(page, name)
    assert panel.get_attribute("data-task") == "vectors"
    word = panel.find_element(By.CSS_SELECTOR, "input.word")
    word.clear()
    word.send_keys("king\n")
    _wait(page, lambda: panel.find_elements(By.CSS_SELECTOR, ".neighbors li"), "no neighbours")
    status, answer = server.call("POST", f"/v1/vectors/{name}/neighbors", {"word": "king", "topn": 10})
    assert status == 200, answer
    shown = [
        li.find_element(By.CSS_SELECTOR, ".word").text
        for li in panel.find_elements(By.CSS_SELECTOR, ".neighbors li")
    ]
    assert shown == [n["word"] for n in answer["neighbors"]] and "king" not in shown
    for selector, value in {"input.a": "man", "input.b": "king", "input.c": "woman"}.items():
        panel.find_element(By.CSS_SELECTOR, selector).send_keys(value)
    panel.find_element(By.CSS_SELECTOR, "button.run-analogy").click()
    _wait(page, lambda: panel.find_elements(By.CSS_SELECTOR, ".answers li"), "no analogy answers")
    assert not panel.find_element(By.CSS_SELECTOR, ".error").is_displayed()
    _screenshot(panel, "serve-vectors", tmp_path)


def test_whole_page_screenshot(page, tmp_path: Path):
    """The whole page, beyond the window's height (taken last: the panels hold the results of the tests
    above), as it looks without --api-key: the key field hidden again."""
    page.execute_script("document.getElementById('key-form').hidden = true; window.scrollTo(0, 0)")
    width, height = page.execute_script(
        "const d = document.documentElement; return [d.scrollWidth, d.scrollHeight]"
    )
    shot = page.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG")
    _save(png, "serve-page", tmp_path)
