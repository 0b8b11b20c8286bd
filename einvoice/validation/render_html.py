"""A self-contained HTML report page (no external CSS, JS or fonts)."""

from __future__ import annotations

from html import escape
from typing import Iterable

from .render import SEVERITY_TEXT, TRIAGE_TEXT, describe, text_summary
from .result import ValidationResult

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#1a1a1a}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-bottom:.2rem}
.valid{color:#14632d} .invalid{color:#a40000}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
td.loc{font-family:monospace;font-size:.75rem;word-break:break-all}
.error{background:#fde8e8} .warning{background:#fff6d9} .information{background:#eef4ff}
"""


def html_report(results: Iterable[ValidationResult]) -> str:
    results = list(results)
    body = [f"<h1>Validierungsbericht / validation report</h1><p>{escape(text_summary(results))}</p>"]
    for result in results:
        css = "valid" if result.valid else "invalid"
        verdict = "gültig / valid" if result.valid else "ungültig / invalid"
        body.append(f'<section><h2 class="{css}">{escape(result.file)}: {verdict}</h2>')
        body.append(f"<p>{escape(describe(result))}<br>Empfehlung / triage: <strong>{escape(TRIAGE_TEXT[result.triage])}</strong></p>")
        if result.findings:
            body.append('<table><thead><tr><th scope="col">Stufe / level</th><th scope="col">Regel / rule</th>'
                        '<th scope="col">Meldung / message</th><th scope="col">Ort / location</th>'
                        '<th scope="col">Quelle / source</th></tr></thead><tbody>')
            for f in result.findings:
                level = f.severity.value
                body.append(
                    f'<tr class="{level}"><td>{escape(SEVERITY_TEXT[level])}</td><td>{escape(f.rule_id)}</td>'
                    f'<td>{escape(f.message)}</td><td class="loc">{escape(f.location)}</td><td>{escape(f.source)}</td></tr>'
                )
            body.append("</tbody></table>")
        body.append("</section>")
    return (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>einvoice – Validierungsbericht</title><style>{_STYLE}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )
