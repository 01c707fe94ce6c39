"""The report opens in a real headless browser: every image decodes and the console is clean.

Needs Chromium (``apt-get install -y chromium``); skipped with that message when it is absent,
except under CI (``CI=true``), where a missing browser fails the tests.
"""

from __future__ import annotations

import re


def test_report_displays_in_headless_chromium(full_report, browser):
    render_in_chromium, console_messages = browser
    path = full_report
    n_img = path.read_text().count("<img ")
    dom, log = render_in_chromium(path)
    m = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert m, "the report's image check did not run in the browser"
    assert (int(m.group(1)), int(m.group(2))) == (n_img, n_img) and n_img >= 10
    assert f"images decoded: {n_img}/{n_img}" in dom
    assert console_messages(log) == []


def test_ablation_report_displays_in_headless_chromium(ablation_dir, tmp_path, browser):
    from causalfolio.report.ablation import write_ablation_report

    render_in_chromium, console_messages = browser
    path = write_ablation_report(ablation_dir, tmp_path / "ablation.html")
    n_img = path.read_text().count("<img ")
    dom, log = render_in_chromium(path)
    assert f'data-images="{n_img}/{n_img}"' in dom and n_img >= 8
    assert console_messages(log) == []


def test_the_browser_check_catches_broken_pages(tmp_path, browser):
    render_in_chromium, console_messages = browser
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="data:image/png;base64,AAAA">'
                   '<script>throw new Error("boom")</script></body></html>')
    dom, log = render_in_chromium(bad)
    assert any("Uncaught Error: boom" in m for m in console_messages(log))
