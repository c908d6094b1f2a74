"""Pages as a person sees them, in the headless Chromium scripts/test.sh installs: the
layout at a window width (overflow, words broken across lines) and the printed PDF."""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.conftest import skip_or_fail

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]

# the document's width, the window's, and the words of 2 to 30 letters that are drawn
# on more than one line (a long path may break anywhere; a name or a number may not)
PROBE = """<script>(function(){
var broken=[], walk=document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while(walk.nextNode()){var node=walk.currentNode, re=/\\S+/g, m;
 while((m=re.exec(node.data))){if(m[0].length<2||m[0].length>30)continue;
  var r=document.createRange(); r.setStart(node,m.index); r.setEnd(node,m.index+m[0].length);
  var tops={}; Array.from(r.getClientRects()).forEach(function(c){tops[Math.round(c.top)]=1});
  if(Object.keys(tops).length>1)broken.push(m[0]);}}
document.title='W'+document.documentElement.scrollWidth+','+window.innerWidth+','+
 encodeURIComponent(JSON.stringify(broken));})()</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        skip_or_fail("needs Debian's chromium (scripts/test.sh installs it)")
    return found


def layout(page, tmp_path, width: int = 1280) -> tuple[int, int, list[str]]:
    """(document width, window width, words broken across lines) of *page*."""
    import json
    from urllib.parse import unquote
    probe = page.with_name(page.stem + ".probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    try:
        out = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
                              f"--window-size={width},900", "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    finally:
        probe.unlink()
    found = re.search(r"<title>W(\d+),(\d+),([^<]*)</title>", out)
    assert found, out[-2000:]
    return int(found[1]), int(found[2]), json.loads(unquote(found[3]))


def print_pdf(page, tmp_path) -> tuple[bytes, int]:
    """*page* printed to PDF (A4 as its stylesheet asks): (the PDF, its page count)."""
    pdf = page.with_suffix(".pdf")
    subprocess.run([chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    data = pdf.read_bytes()
    return data, len(re.findall(rb"/Type\s*/Page(?![s\w])", data))
