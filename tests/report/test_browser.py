"""The reports open in a real headless browser: every image decodes, no chart is empty, the
ablation report leads with its forest plot, and the console is clean.

Needs Chromium (``apt-get install -y chromium``); skipped with that message when it is absent,
except under CI (``CI=true``), where a missing browser fails the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

# Test-only instrumentation appended to a copy of the report: the browser draws every decoded
# image on a canvas and counts its coloured pixels (|max - min| of R, G, B above 60). Axes, text
# and grid lines are grey; data (lines, bars, intervals, heatmap cells, markers) are coloured, so
# a chart with fewer than 200 coloured pixels drew no data.
BLANK_CHECK = """<script>
(function(){
  function run(){
    var imgs=document.images, blank=[];
    for(var i=0;i<imgs.length;i++){
      var im=imgs[i], c=document.createElement('canvas');
      c.width=im.naturalWidth; c.height=im.naturalHeight;
      var g=c.getContext('2d'); g.drawImage(im,0,0);
      var d=g.getImageData(0,0,c.width,c.height).data, n=0;
      for(var k=0;k<d.length;k+=4){
        var hi=Math.max(d[k],d[k+1],d[k+2]), lo=Math.min(d[k],d[k+1],d[k+2]);
        if(hi-lo>60){n++;}
      }
      if(n<200){blank.push(im.alt);}
    }
    document.body.setAttribute('data-blank', blank.length ? blank.join(' | ') : 'none');
  }
  if(document.readyState==='complete'){run();}else{window.addEventListener('load',run);}
})();
</script>"""


def _instrumented(report: Path, tmp: Path) -> Path:
    copy = tmp / f"checked-{report.name}"
    copy.write_text(report.read_text().replace("</body>", BLANK_CHECK + "</body>"))
    return copy


def _check(path: Path, browser, tmp: Path, at_least: int) -> tuple[str, list[str]]:
    render_in_chromium, console_messages = browser
    n_img = path.read_text().count("<img ")
    dom, log = render_in_chromium(_instrumented(path, tmp))
    m = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert m, "the report's image check did not run in the browser"
    assert (int(m.group(1)), int(m.group(2))) == (n_img, n_img) and n_img >= at_least
    assert f"images decoded: {n_img}/{n_img}" in dom
    assert 'data-blank="none"' in dom, re.search(r'data-blank="([^"]*)"', dom)
    assert console_messages(log) == []
    return dom, re.findall(r'<img [^>]*alt="([^"]+)"', dom)


def test_report_displays_in_headless_chromium(full_report, browser, tmp_path):
    dom, titles = _check(full_report, browser, tmp_path, at_least=15)
    assert titles[0] == "Return, volatility and Sharpe"


def test_ablation_report_displays_in_headless_chromium(ablation_dir, tmp_path, browser):
    from causalfolio.report.ablation import write_ablation_report

    path = write_ablation_report(ablation_dir, tmp_path / "ablation.html")
    dom, titles = _check(path, browser, tmp_path, at_least=8)
    # the page leads with the uncertainty: the forest plot of the differences to the reference
    assert titles[0] == "Sharpe ratio: difference to equal (95% intervals)"
    assert dom.index("<h2>Evidence</h2>") < dom.index("<h2>Results</h2>")


def test_the_browser_check_catches_broken_and_empty_pages(tmp_path, browser):
    render_in_chromium, console_messages = browser
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="data:image/png;base64,AAAA">'
                   '<script>throw new Error("boom")</script></body></html>')
    dom, log = render_in_chromium(bad)
    assert any("Uncaught Error: boom" in m for m in console_messages(log))
    # an empty chart (axes, no data) is caught by the coloured-pixel count
    import pandas as pd

    from causalfolio.report import charts
    from causalfolio.report.html import _img

    fig = charts._figure()
    ax = fig.add_subplot()
    ax.set_title("empty")
    ax.plot([0, 1], [0, 1], color="0.3", label="grey line")
    empty = charts._render(fig, "empty")
    drawn = charts.bar_chart(pd.Series([1.0, 2.0], index=["a", "b"]), "full", "x")
    page = tmp_path / "empty.html"
    page.write_text(f"<html><body>{_img(empty)}{_img(drawn)}</body></html>")
    dom, _ = render_in_chromium(_instrumented(page, tmp_path))
    assert 'data-blank="empty"' in dom
