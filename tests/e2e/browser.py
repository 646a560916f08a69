"""Helpers for driving the browser: a page that records what must not happen, and waiting for a condition."""

from __future__ import annotations

import time
from urllib.parse import urlparse

WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


class Watched:
    """A page with listeners for what must not happen: script from data, CSP violations, console errors."""

    def __init__(self, page, live_server_url: str):
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.outside: list[str] = []
        page.add_init_script(WATCH)
        # Chromium reports a CSP violation as a console error ("Refused to ..."); any other error counts too.
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("dialog", self._dialog)
        host = urlparse(live_server_url).netloc
        page.on(
            "request",
            lambda r: (
                self.outside.append(r.url)
                if urlparse(r.url).netloc not in (host, "") and not r.url.startswith(("data:", "blob:"))
                else None
            ),
        )

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def goto(self, url: str, *, status: int = 200):
        response = self.page.goto(url)
        assert response is not None and response.status == status, (url, response and response.status)
        assert "script-src 'self'" in (response.headers.get("content-security-policy") or ""), url
        return response

    def leave(self):
        """End on a blank page and let the server finish what it was sent (the
        import page polls), so the database flush after the test waits for no request."""
        self.page.goto("about:blank")
        self.page.wait_for_timeout(500)

    def assert_clean(self, where: str):
        violations = self.page.evaluate("window.__cspViolations || []")
        assert violations == [], (where, violations)
        assert self.errors == [], (where, self.errors)
        assert self.dialogs == [], (where, self.dialogs)
        assert self.page.evaluate("window.__xss === undefined"), (where, self.page.evaluate("window.__xss"))
        # No element made from the payloads: no <img src=x>, no javascript: link, no <script> with our text.
        assert self.page.locator('img[src="x"]').count() == 0, where
        links = self.page.eval_on_selector_all(
            "a", "els => els.map(a => a.getAttribute('href') || a.getAttribute('xlink:href') || '')"
        )
        assert not [h for h in links if h.strip().lower().startswith("javascript:")], (where, links)
        assert self.outside == [], (where, self.outside)


def wait_for(condition, timeout: float = 10.0, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"Timed out waiting for {message}")
