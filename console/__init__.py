"""The web console: incidents, decisions, approvals, evidence and reports in the browser.

Server-rendered with Jinja2 (autoescaping on), no build step, no CDN: every asset ships in
this package. It sits above `agent` and may import anything below it; nothing below imports it.
"""
