"""Great Expectations Data Docs that open offline: GX's pages load Bootstrap, jQuery, Font Awesome (the pass and
fail icons), bootstrap-table (the index's list of runs) and Vega from CDNs, so without a network the verdict of
each check is invisible. After each build the pages are rewritten to load local copies from
``static/vendor/``: jQuery, Bootstrap 4 and Font Awesome from their XStatic wheels, Vega / Vega-Lite 5 /
vega-embed bundled offline by vl-convert, and a small stand-in for bootstrap-table (which has no wheel) that
draws the index's tables from the data GX embeds. Tags with nothing local behind them (the date picker, a
dark theme) are dropped, so nothing is requested from the network.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

VENDOR = "static/vendor"
VEGA_LITE = "5.21"  # GX's pages embed Vega-Lite 5 specs

# CDN address (prefix) -> the local file under static/vendor/ that replaces it; None drops the tag.
REPLACEMENTS: tuple[tuple[str, str | None], ...] = (
    ("https://code.jquery.com/jquery-", "jquery/jquery.min.js"),
    ("https://maxcdn.bootstrapcdn.com/bootstrap/4.", "bootstrap/css/bootstrap.min.css"),
    ("https://stackpath.bootstrapcdn.com/bootstrap/4.", "bootstrap/js/bootstrap.bundle.min.js"),  # popper inside
    ("https://cdnjs.cloudflare.com/ajax/libs/popper.js/", None),
    ("https://cdnjs.cloudflare.com/ajax/libs/font-awesome/", "font-awesome/css/all.min.css"),
    ("https://cdn.jsdelivr.net/npm/vega@", f"vega/vega-vl{VEGA_LITE}.js"),
    ("https://cdn.jsdelivr.net/npm/vega-lite@", None),  # in the bundle above
    ("https://cdn.jsdelivr.net/npm/vega-embed@", None),
    ("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js", "bootstrap-table-lite.js"),
    ("https://unpkg.com/bootstrap-table@", None),  # its CSS and the filter-control extension
    ("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/", None),
    ("https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark", None),
    ("https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png", "../images/logo-long.png"),
)

TABLE_SHIM = """/* leadflow: a stand-in for bootstrap-table (no network, no wheel): draws a table from the columns and data
   GX embeds, sorted as configured, rows carrying their link attributes and raising click-row.bs.table. */
(function ($) {
  "use strict";
  if (!$) { return; }
  function call(name, args) {
    var fn = typeof name === "function" ? name : window[name];
    return typeof fn === "function" ? fn.apply(null, args) : {};
  }
  $.fn.bootstrapTable = function (options) {
    if (typeof options === "string") { return this; }  // resetSearch, clearFilterControl: no filters here
    return this.each(function () {
      var $table = $(this), columns = options.columns || [], rows = (options.data || []).slice();
      var sortBy = options.sortName;
      columns.forEach(function (c) { if (c.field === options.sortName && c.sortName) { sortBy = c.sortName; } });
      if (sortBy) {
        rows.sort(function (a, b) { return a[sortBy] < b[sortBy] ? -1 : (a[sortBy] > b[sortBy] ? 1 : 0); });
        if (options.sortOrder === "desc") { rows.reverse(); }
      }
      var $head = $("<tr>");
      columns.forEach(function (c) { $head.append($("<th>").text(c.title || c.field).css("text-align", c.align || "")); });
      var $body = $("<tbody>");
      rows.forEach(function (row, index) {
        var style = call(options.rowStyle, [row, index]) || {};
        var $tr = $("<tr>").attr(call(options.rowAttributes, [row, index]) || {}).addClass(style.classes || "");
        columns.forEach(function (c) {
          var value = row[c.field];
          $tr.append($("<td>").html(value === undefined || value === null ? "" : String(value)).css("text-align", c.align || ""));
        });
        $tr.on("click", function () { $table.trigger("click-row.bs.table", [row, $tr]); });
        $body.append($tr);
      });
      $table.empty().addClass("table table-sm table-hover").append($("<thead>").append($head), $body);
    });
  };
})(window.jQuery);
"""


def _vega_bundle(cache_dir: Path) -> str:
    import vl_convert

    path = cache_dir / f"vega-bundle-{getattr(vl_convert, '__version__', 'unknown')}-vl{VEGA_LITE}.js"
    if not path.exists():
        bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE)
        path.parent.mkdir(parents=True, exist_ok=True)
        # As a classic script (GX's inline scripts call vegaEmbed at once; file:// forbids module scripts),
        # wrapped so its top-level names stay out of the page's globals.
        tmp = path.with_suffix(".tmp")
        tmp.write_text("(function () {\n" + bundle + "\n})();\n")
        tmp.replace(path)
    return path.read_text()


def install_vendor(docs_dir: Path, cache_dir: Path) -> Path:
    """Copy the local assets into ``docs_dir/static/vendor`` (idempotent)."""
    import xstatic.pkg.bootstrap as bootstrap
    import xstatic.pkg.font_awesome as font_awesome
    import xstatic.pkg.jquery as jquery

    vendor = docs_dir / VENDOR
    (vendor / "jquery").mkdir(parents=True, exist_ok=True)
    shutil.copy2(Path(jquery.BASE_DIR) / "jquery.min.js", vendor / "jquery" / "jquery.min.js")
    for sub in ("css", "js"):
        shutil.copytree(Path(bootstrap.BASE_DIR) / sub, vendor / "bootstrap" / sub, dirs_exist_ok=True)
    for sub in ("css", "webfonts"):
        shutil.copytree(Path(font_awesome.BASE_DIR) / sub, vendor / "font-awesome" / sub, dirs_exist_ok=True)
    (vendor / "vega").mkdir(exist_ok=True)
    (vendor / "vega" / f"vega-vl{VEGA_LITE}.js").write_text(_vega_bundle(cache_dir))
    (vendor / "bootstrap-table-lite.js").write_text(TABLE_SHIM)
    return vendor


_TAG = re.compile(r"""<(script|link)\b[^>]*?(?:src|href)\s*=\s*["'](https?://[^"']+)["'][^>]*>(\s*</script>)?""", re.I)
_IMG = re.compile(r"""(<img\b[^>]*?src\s*=\s*["'])(https?://[^"']+)(["'])""", re.I)


def _local(url: str) -> tuple[bool, str | None]:
    for prefix, target in REPLACEMENTS:
        if url.startswith(prefix):
            return True, target
    return False, None


def rewrite_page(text: str, vendor_rel: str) -> str:
    """The page with every CDN stylesheet and script pointed at ``vendor_rel`` (or dropped)."""

    def tag(match: re.Match) -> str:
        known, target = _local(match.group(2))
        if not known:
            return match.group(0)
        if target is None:
            return ""
        local = match.group(0).replace(match.group(2), f"{vendor_rel}/{target}")
        # a CDN's integrity hash and CORS mode make a browser refuse the file:// copy
        return re.sub(r"""\s(integrity|crossorigin)(\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""", "", local)

    def img(match: re.Match) -> str:
        known, target = _local(match.group(2))
        return match.group(1) + f"{vendor_rel}/{target}" + match.group(3) if known and target else match.group(0)

    text = _IMG.sub(img, _TAG.sub(tag, text))
    # GX links the favicon one folder short on validation pages: a failed request in every one of them
    return re.sub(r"""(["'])(?:\.\./)*static/images/favicon\.ico\1""", rf"\1{vendor_rel}/../images/favicon.ico\1", text)


def make_offline(docs_dir: Path, cache_dir: Path) -> int:
    """Install the local assets and rewrite every page of the Data Docs; returns the pages rewritten."""
    if not (docs_dir / "index.html").exists():
        return 0
    install_vendor(docs_dir, cache_dir)
    changed = 0
    for page in docs_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        rel = Path(*[".."] * (len(page.relative_to(docs_dir).parts) - 1), VENDOR).as_posix()
        new = rewrite_page(text, rel)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    log.info("data docs: %s page(s) rewritten to load their assets from %s", changed, docs_dir / VENDOR)
    return changed
