"""The documentation website, built and opened in a real browser (headless Chromium).

Two parts:

- Markdown checks that need no browser: math in docs/**/*.md is written so that it renders on
  GitHub too (no `|` inside math in a table row, no `\\|`).
- The website: built with Sphinx + MyST-NB (docs/conf.py; the notebooks executed), served on
  127.0.0.1 and opened in Debian's Chromium (/usr/bin/chromium) through Playwright: every page
  loads with no console error and no failed request, every formula is typeset (no raw `$…$`,
  `\\(` or MathJax error left), search finds "Bellman", an executed notebook shows its figures, the
  API reference lists `value_iteration`. Screenshots of three pages go to build/screenshots/.

Chromium is never downloaded: Playwright launches /usr/bin/chromium (`apt-get install chromium`).
Without it the browser checks are skipped with the reason in pytest's summary — unless
RLCORE_REQUIRE_BROWSER=1 (set by .ci/run), which makes a missing browser a failure. With
RLCORE_SITE_DIR set (by .ci/run, after `make docs`) the checks use that build instead of building
the site again.
"""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
import re
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.xdist_group("site")  # under pytest-xdist (--dist loadgroup): one worker, one build

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "build" / "screenshots"
MD_PAGES = sorted((ROOT / "docs").rglob("*.md"))
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$\n]+?)(?<!\\)\$")


# ------------------------------------------------------------------ Markdown, no browser
def _math_spans(line: str) -> list[str]:
    line = re.sub(r"`[^`]*`", "", line)  # code spans are not math
    return INLINE_MATH.findall(line)


@pytest.mark.parametrize("page", MD_PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_math_in_markdown_renders_on_github_too(page):
    """A `|` inside math in a table row splits the cell on GitHub (and in MyST); `\\|` loses its backslash."""
    problems = []
    in_code = False
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        spans = _math_spans(line)
        if line.lstrip().startswith("|"):
            problems += [f"line {number}: `|` in table math ${s}$ (write \\lvert … \\rvert, \\mid or \\Vert)"
                         for s in spans if "|" in s]
        if "\\|" in line and ("$" in line or "\\|" in "".join(spans)):
            problems.append(f"line {number}: `\\|` in math (write \\Vert)")
    assert not problems, f"{page.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", MD_PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_no_control_characters(page):
    """A Python string that wrote "\\alpha" as "\alpha" leaves a BEL character and "lpha" on the page."""
    bad = [(number, repr(line)[:80]) for number, line in enumerate(page.read_text().splitlines(), 1)
           if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", line)]
    assert not bad, f"{page.name}: control characters (an unescaped backslash?) on lines {bad}"


def test_the_markdown_check_rejects_what_it_should():
    """Negative control: the two slips are found, their fixes are not."""
    assert _math_spans(r"| a | $|V(s)|$ |") == ["|V(s)|"]
    assert _math_spans(r"| a | $\lvert V(s) \rvert$ and `$x$` |") == [r"\lvert V(s) \rvert"]
    assert _math_spans(r"$$x$$ and $y$") == ["y"]


# ----------------------------------------------------------------------------- the site
def _build(out: pathlib.Path) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "auto", "-c", "docs", ".", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"the site did not build:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    given = os.environ.get("RLCORE_SITE_DIR")
    if given:
        path = (ROOT / given).resolve()
        assert (path / "docs" / "index.html").exists(), f"RLCORE_SITE_DIR={given}: no built site there (make docs)"
        return path
    pytest.importorskip("myst_nb", reason="the docs extra is not installed (pip install -e '.[docs]'); make test installs it")
    out = tmp_path_factory.mktemp("site")
    seconds = _build(out)
    print(f"\nsite built in {seconds:.0f} s")
    return out


def test_site_has_every_page_and_notebook(site):
    for page in MD_PAGES:
        relative = page.relative_to(ROOT).with_suffix(".html")
        assert (site / relative).exists(), f"{relative} was not built"
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        html = (site / "notebooks" / f"{notebook.stem}.html").read_text()
        assert "cell_output" in html, f"{notebook.name}: no output on its page (was it executed?)"
        if "plt." in notebook.read_text() or "plot" in notebook.read_text():
            assert "<img" in html, f"{notebook.name} draws figures, but its page shows none"
    assert (site / "index.html").exists() and (site / "_static" / "mathjax" / "tex-chtml.js").exists()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = ("Chromium is not installed (/usr/bin/chromium): the website was NOT checked in a browser. "
                   "Install it with `apt-get install chromium` (CI does).")
        if os.environ.get("RLCORE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " RLCORE_REQUIRE_BROWSER=1: a skip is a failure here.")
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the docs extra)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on 127.0.0.1 (a free port), as a web server would serve it."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _open(browser, url: str, width: int = 1280, height: int = 900):
    """A page at ``url`` after MathJax has typeset it, and every console error / failed request on the way."""
    page = browser.new_page(viewport={"width": width, "height": height})
    problems = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.on("response", lambda response: problems.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400 else None)
    page.goto(url, wait_until="load")
    page.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) "
                  "? MathJax.startup.promise.then(() => true) : true")
    page.wait_for_load_state("networkidle")
    return page, problems


# Text of the article outside code, scripts and typeset math: what a reader sees as prose.
PROSE = """() => {
  const main = document.querySelector('article') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
  return copy.textContent;
}"""
RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|(?<![\w$])\$[^$\s][^$]*?[^$\s\\]\$(?![\w$])|\\(frac|mathbb|sum|gamma|pi)\b")


def _pages(site: pathlib.Path) -> list[str]:
    """Every page of the site except the root index.html, which only redirects to docs/index.html."""
    skip = ("_static/", "_sources/", "_images/", "_downloads/")
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html")
                  if not str(p.relative_to(site)).startswith(skip) and str(p.relative_to(site)) != "index.html")


def test_the_root_opens_the_front_page(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/index.html")
    page.wait_for_url("**/docs/index.html", timeout=30_000)
    assert "rlcore + lmenv documentation" in page.locator("article h1").first.inner_text()
    page.close()


def test_every_page_loads_without_errors_and_typesets_its_math(site, server, browser):
    pages = _pages(site)
    assert len(pages) >= len(MD_PAGES), pages
    failures = {}
    typeset = 0
    for relative in pages:
        page, problems = _open(browser, f"{server}/{relative}")
        counts = page.evaluate("""() => ({
            spans: document.querySelectorAll('article .math, article div.math').length,
            rendered: document.querySelectorAll('article mjx-container').length,
            errors: document.querySelectorAll('mjx-merror').length})""")
        if counts["errors"]:
            problems.append(f"{counts['errors']} formulas with a MathJax error")
        if counts["spans"] and counts["rendered"] < counts["spans"]:
            problems.append(f"{counts['spans'] - counts['rendered']} of {counts['spans']} formulas not typeset")
        raw = sorted({m.group(0) for m in RAW_MATH.finditer(page.evaluate(PROSE))})
        if raw:
            problems.append(f"raw math in the text: {raw[:8]}")
        typeset += counts["rendered"]
        if problems:
            failures[relative] = problems
        page.close()
    assert not failures, "\n".join(f"{page}: {problems}" for page, problems in failures.items())
    assert typeset > 500, f"only {typeset} formulas typeset on the whole site"


def test_search_finds_bellman(server, browser):
    page, problems = _open(browser, f"{server}/search.html?q=Bellman")
    page.wait_for_selector("#search-results ul li", timeout=30_000)
    hits = page.locator("#search-results ul li a").all_inner_texts()
    assert len(hits) >= 3 and any("Bellman" in hit for hit in hits), hits
    assert not problems, problems
    page.close()


def test_notebook_page_shows_its_figures(server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, problems = _open(browser, f"{server}/notebooks/01_bellman.html")
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll('article img'))
                                   .map(img => [img.complete, img.naturalWidth, img.naturalHeight])""")
    drawn = [s for s in sizes if s[0] and s[1] > 100 and s[2] > 100]
    assert len(drawn) >= 4, f"figures on the executed notebook page: {sizes}"
    page.locator("article img").nth(2).scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "notebook_01_bellman.png"))
    assert not problems, problems
    page.close()


def test_api_reference_lists_value_iteration(server, browser):
    page, problems = _open(browser, f"{server}/docs/api/rlcore.html")
    entry = page.locator('[id="rlcore.value_iteration"]')
    assert entry.count() == 1
    assert "value iteration" in entry.locator("xpath=..").inner_text()
    for name in ("rlcore.MDP", "rlcore.q_from_v", "rlcore.train_lockstep", "rlcore.value_table"):
        assert page.locator(f'[id="{name}"]').count() == 1, name
    page.screenshot(path=str(SCREENSHOTS / "api_rlcore.png"))
    assert not problems, problems
    page.close()


def test_screenshot_of_a_math_page(server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, problems = _open(browser, f"{server}/docs/mistakes.html")
    page.screenshot(path=str(SCREENSHOTS / "mistakes.png"))
    assert page.locator("article mjx-container").count() >= 10
    assert not problems, problems
    page.close()
