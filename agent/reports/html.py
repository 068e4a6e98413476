"""The reports as single self-contained HTML files: inline SVG charts drawn by matplotlib,
no script, no external asset, readable offline. Every text from the store (alert names,
reasons, approver names) is escaped: it is untrusted data.
"""

from __future__ import annotations

import io
from html import escape
from typing import Any

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.fire{color:#b00;font-weight:bold}"
    "figure{margin:1em 0}"
)


def _svg(draw: Any, *, width: float = 6.0, height: float = 3.6) -> str:
    """An inline <svg> from a drawing function given a matplotlib Axes."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "scutum", "font.size": 9}):
        figure = Figure(figsize=(width, height))
        draw(figure.add_subplot())
        figure.tight_layout()
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _page(title: str, parts: list[str]) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{''.join(parts)}</body></html>\n"
    )


def _reliability_chart(rows: list[dict[str, Any]]) -> str:
    used = [r for r in rows if r["executed"]]

    def draw(ax: Any) -> None:
        ax.plot([0, 1], [0, 1], linestyle="--", color="#999", label="score read as probability")
        xs = [r["predicted"] for r in used]
        ys = [r["observed"] for r in used]
        errors = [
            [y - r["low"] for y, r in zip(ys, used, strict=True)],
            [r["high"] - y for y, r in zip(ys, used, strict=True)],
        ]
        ax.errorbar(xs, ys, yerr=errors, fmt="o", color="#1f5fa8", capsize=3, label="observed (Wilson 95%)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean risk score in band")
        ax.set_ylabel("bad-outcome rate")
        ax.legend(loc="upper left")

    return _svg(draw)


def calibration_html(data: dict[str, Any]) -> str:
    """`scutum report calibration --html`."""
    cal = data["calibration"]
    parts = [
        f"<p>Generated {escape(data['generated_at'])}. {cal['decisions']} decisions, {cal['executed']} actions ran, "
        f"{cal['bad']} ended badly (failed, undone, overridden or reverted by its owner). "
        f"Brier score: {escape(_cell(cal['brier']))}.</p>",
        "<h2>Drift signals</h2>",
        _drift_table(data["drift"]),
        "<h2>How decisions ended</h2>",
        _table(["ending", "decisions"], [[k, v] for k, v in cal["endings"].items()]),
        *_reliability_section(cal),
        *_people_section(cal),
        "<h2>Week by week</h2>",
        f"<figure>{_weekly_chart(cal['weekly'])}</figure>" if cal["weekly"] else "<p>No history yet.</p>",
        "<h2>Thresholds and policy changes</h2>",
        _table(
            ["at", "execute_max", "previous", "by", "what"],
            [[t["at"], t["execute_max"], t["previous"], t["by"], t["what"]] for t in cal["thresholds"]],
        ),
        "<h2>Precondition audit</h2>",
        _table(
            ["planner", "proposals", "with claims", "disputed", "share", "95% low", "95% high"],
            [
                [a["planner"], a["proposals"], a["with_claims"], a["disputed"], a["share"], a["low"], a["high"]]
                for a in data["precondition_audit"]
            ],
        ),
    ]
    return _page("Scutum calibration report", parts)


def _reliability_section(cal: dict[str, Any]) -> list[str]:
    rel = cal["reliability"]
    parts = [
        "<h2>Reliability by risk band</h2>",
        f"<figure>{_reliability_chart(rel)}</figure>",
        _table(
            ["band", "ran", "bad", "observed", "95% low", "95% high", "mean score"],
            [[r["band"], r["executed"], r["bad"], r["observed"], r["low"], r["high"], r["predicted"]] for r in rel],
        ),
    ]
    for name, rows in cal["components"].items():
        parts.append(f"<h3>By {escape(name)}</h3>")
        parts.append(
            _table(
                ["band", "ran", "bad", "observed", "95% low", "95% high"],
                [[r["band"], r["executed"], r["bad"], r["observed"], r["low"], r["high"]] for r in rows],
            )
        )
    return parts


def _people_section(cal: dict[str, Any]) -> list[str]:
    columns = ("band", "requests", "approved", "rejected", "expired", "approval_rate", "median_seconds")
    return [
        "<h2>People</h2>",
        _table(
            ["band", "requests", "approved", "rejected", "expired", "approval rate", "median s to approve"],
            [[a[c] for c in columns] for a in cal["approvals"]],
        ),
        f"<p>Approvals in under 10 s: {cal['rubber_stamps']} of {cal['approved']}.</p>",
        _table(
            ["who", "approved", "rejected", "median s to decide", "approvals under 10 s"],
            [
                [k, v["approved"], v["rejected"], v["median_seconds"], v["under_10s"]]
                for k, v in cal["approvers"].items()
            ],
        ),
        f"<p>Low-risk rejections: {len(cal['low_risk_rejections'])}.</p>",
        _table(
            ["at", "action", "risk", "by"],
            [[r["at"], r["action"], r["risk"], ", ".join(r["by"])] for r in cal["low_risk_rejections"][:50]],
        ),
    ]


def _weekly_chart(weeks: list[dict[str, Any]]) -> str:
    def draw(ax: Any) -> None:
        labels = [w["week"] for w in weeks]
        xs = list(range(len(weeks)))
        rate = [w["auto_bad"] / w["auto_ran"] if w["auto_ran"] else None for w in weeks]
        ax.plot(
            xs,
            [r if r is not None else float("nan") for r in rate],
            marker="o",
            color="#b03030",
            label="bad-outcome rate, auto-executed",
        )
        stamps = [w["stamp_share"] if w["stamp_share"] is not None else float("nan") for w in weeks]
        ax.plot(xs, stamps, marker="s", color="#1f5fa8", label="share of approvals under 10 s")
        ax.set_ylim(0, 1)
        ax.set_xticks(xs[:: max(1, len(xs) // 10)])
        ax.set_xticklabels(labels[:: max(1, len(xs) // 10)], rotation=30, ha="right")
        ax.set_ylabel("share")
        ax.legend(loc="upper left")

    return _svg(draw, width=7.0)


def _drift_table(readings: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr><td>{escape(r["signal"])}</td><td class="{"fire" if r["firing"] else ""}">'
        f"{'FIRING' if r['firing'] else 'quiet'}</td><td>{escape(_cell(r['value']))}</td>"
        f"<td>{escape(_cell(r['threshold']))}</td><td>{escape(r['detail'])}</td></tr>"
        for r in readings
    )
    head = "".join(f"<th>{h}</th>" for h in ("signal", "state", "statistic", "threshold", "detail"))
    return f"<table><tr>{head}</tr>{rows}</table>"


def coverage_html(data: dict[str, Any]) -> str:
    """`scutum report coverage --html`."""
    total = data["incidents"] or 1

    def curve(ax: Any) -> None:
        ks = [p["k"] for p in data["curve"]]
        ax.plot(ks, [p["share"] for p in data["curve"]], marker="o", color="#1f5fa8")
        ax.set_xticks(ks)
        ax.set_ylim(0, 1)
        ax.set_xlabel("best k actions")
        ax.set_ylabel("share of incidents addressed")

    def bars(ax: Any) -> None:
        names = list(data["addressed"])
        ax.barh(names[::-1], [data["addressed"][n] / total for n in names[::-1]], color="#1f5fa8")
        ax.set_xlabel("share of incidents")

    tenth = data["tenth"]
    parts = [
        f"<p>{data['incidents']} incidents; {data['share_addressed']:.0%} addressed by one of the nine actions; "
        f"{data['no_fit']} escalated because no action fit.</p>",
        "<h2>Marginal coverage</h2>",
        f"<figure>{_svg(curve)}</figure>",
        _table(["k", "share", "actions"], [[p["k"], p["share"], ", ".join(p["actions"])] for p in data["curve"]]),
        "<h2>Share each action addressed</h2>",
        f"<figure>{_svg(bars)}</figure>",
        "<h2>No action fit</h2>",
        _table(["alert", "incidents"], [[k, v] for k, v in data["no_fit_by_alert"].items()]),
        _table(["planner's reason", "incidents"], [[k, v] for k, v in data["no_fit_by_reason"].items()]),
    ]
    if tenth:
        parts.append(
            f"<p>A tenth action for <b>{escape(tenth['alert'])}</b> would have covered {tenth['incidents']} more "
            f"incidents ({tenth['share']:.0%}); coverage would be {tenth['coverage_with_it']:.0%}.</p>"
        )
    return _page("Scutum coverage report", parts)
