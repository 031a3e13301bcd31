"""Re-take the README's dashboard screenshots (docs/dashboard-*.png) from the real demo.

    .venv/bin/python scripts/demo_screenshots.py

Runs `ev-optimizer demo --json`, opens its one-time login link in Debian's headless Chromium
once charging has started (a plan, a session and a SoC on the way up), and saves the page at
desktop and phone width.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "ev-optimizer"
CHROMIUM = "/usr/bin/chromium"
SIZES = {"desktop": {"viewport": {"width": 1280, "height": 1000}},
         "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
                   "is_mobile": True, "has_touch": True}}


def main() -> int:
    demo = subprocess.Popen([str(CLI), "demo", "--json"], stdout=subprocess.PIPE, text=True)
    assert demo.stdout is not None
    link = url = None
    for line in demo.stdout:
        event = json.loads(line)
        if event["event"] == "dashboard":
            link, url = event["login_link"], event["url"]
        if event["event"] == "charging_started":
            break
    else:
        print("the demo ended before charging started", file=sys.stderr)
        return 1
    assert link is not None and url is not None
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--headless", "--no-sandbox"])
            cookies = None
            for name, options in SIZES.items():
                context = browser.new_context(timezone_id="Europe/Berlin", locale="en-GB",
                                              **options)  # type: ignore[arg-type]
                page = context.new_page()
                if cookies is None:
                    page.goto(link)  # the one-time link: once, then the cookie
                    cookies = context.cookies()
                else:
                    context.add_cookies(cookies)  # type: ignore[arg-type]
                    page.goto(url)
                expect(page.get_by_test_id("cost").first).to_contain_text("EUR")
                expect(page.get_by_test_id("live")).to_have_text("live")
                path = ROOT / "docs" / f"dashboard-{name}.png"
                page.screenshot(path=str(path), full_page=True)
                print(path)
                context.close()
            browser.close()
    finally:
        demo.terminate()
        demo.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
