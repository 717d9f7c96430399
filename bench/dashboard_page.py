"""Dashboard page weight and load time, in Debian's headless Chromium (Playwright, no browser download).

Fills a SQLite log with ``--rows`` synthetic requests over the last day (as bench/admin_api.py does),
serves it from a real gateway on 127.0.0.1, then loads ``/dashboard`` ``--repeat`` times in fresh
browser contexts (cold: nothing cached) and once more per context after a reload (warm: 304s). Reports
bytes transferred (gzip) and decoded per resource, and the time from navigation start to the first
rendered data (summary + health fetched and drawn), DOMContentLoaded and the load event.

    python bench/dashboard_page.py [--rows 1000000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

TIMING_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  return {
    loaded_ms: Number(document.body.dataset.loaded) - performance.timeOrigin,
    dcl_ms: nav.domContentLoadedEventEnd, load_ms: nav.loadEventEnd,
    entries: [{name: nav.name, transfer: nav.transferSize, decoded: nav.decodedBodySize},
              ...res.map(r => ({name: r.name, transfer: r.transferSize, decoded: r.decodedBodySize}))],
  };
}"""


def fill(path: Path, rows: int) -> None:
    from admin_api import generate

    from smallfirst.store import rollup
    from smallfirst.store.codec import COLUMNS, to_row
    from smallfirst.store.sqlite import connect, migrate

    conn = connect(str(path))
    migrate(conn)
    insert = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

    def write(batch: list[Any]) -> None:
        conn.execute("BEGIN")
        conn.executemany(insert, [to_row(r) for r in batch])
        conn.executemany(rollup.UPSERT, rollup.rows_for(batch))
        conn.execute("COMMIT")

    generate(write, rows, 1.0, "SQLite")
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    from admin_api import bench_settings
    from playwright.sync_api import sync_playwright

    from smallfirst.server.app import create_app
    from tests.helpers.gateway import running

    with tempfile.TemporaryDirectory(prefix="smallfirst-dash-") as tmp:
        db = Path(tmp) / "log.db"
        fill(db, args.rows)
        app = create_app(bench_settings({"path": str(db)}))
        cold: list[dict[str, Any]] = []
        warm: list[dict[str, Any]] = []
        with running(app) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            for _ in range(args.repeat + 1):  # the first is a warm-up of the server and the browser
                ctx = browser.new_context(bypass_csp=True, viewport={"width": 1400, "height": 1000})
                page = ctx.new_page()
                page.goto(url + "/dashboard?range=24h")
                page.wait_for_selector("body[data-loaded]")
                cold.append(page.evaluate(TIMING_JS))
                page.reload()
                page.wait_for_selector("body[data-loaded]")
                warm.append(page.evaluate(TIMING_JS))
                ctx.close()
            browser.close()
    cold, warm = cold[1:], warm[1:]
    first = cold[0]
    print(f"\n/dashboard over a {args.rows:,}-row log (24 h range), {args.repeat} cold loads in fresh contexts")
    print(f"  {'resource':<44}{'transferred':>12}{'decoded':>10}")
    for e in first["entries"]:
        print(f"  {e['name'].split('127.0.0.1')[-1][6:]:<44}{e['transfer']:>12,}{e['decoded']:>10,}")
    tot_t = sum(e["transfer"] for e in first["entries"])
    tot_d = sum(e["decoded"] for e in first["entries"])
    static_t = sum(e["transfer"] for e in first["entries"] if "/admin/" not in e["name"])
    print(f"  {'total':<44}{tot_t:>12,}{tot_d:>10,}   (static page alone: {static_t:,} bytes transferred)")
    for label, runs in (("cold", cold), ("warm (reload, 304s)", warm)):
        med = {k: statistics.median(r[k] for r in runs) for k in ("dcl_ms", "load_ms", "loaded_ms")}
        print(f"  {label:<22} DOMContentLoaded {med['dcl_ms']:6.1f} ms · load {med['load_ms']:6.1f} ms · "
              f"data rendered {med['loaded_ms']:6.1f} ms (medians; max {max(r['loaded_ms'] for r in runs):.1f})")


if __name__ == "__main__":
    main()
