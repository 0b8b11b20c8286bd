"""The server-rendered pages (Jinja2, autoescaped): upload form, receipt, status page, error page.

The templates live here as strings (a `DictLoader`), so the package needs no data files. Every page
is self-contained: one inline stylesheet whose SHA-256 goes into the Content-Security-Policy, no
script, no external resource. Accessibility: ``lang="de"``, a skip link, landmarks, labels tied to
their inputs, hints via ``aria-describedby``, an error summary with ``role="alert"``, states shown
as text and symbol (never colour alone), colours with a contrast ratio of at least 4.5:1, visible
focus.
"""

from __future__ import annotations

import base64
import hashlib

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape
from markupsafe import Markup

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 1.0625rem; line-height: 1.55; color: #1b1b1b; background: #f4f5f7; }
.skip { position: absolute; left: -10000px; top: 0; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem 1rem; z-index: 10; }
header { background: #0b3a67; color: #fff; padding: .9rem 1.5rem; }
header p { margin: 0; font-weight: 600; font-size: 1.15rem; }
main { max-width: 52rem; margin: 1.5rem auto; background: #fff; padding: 1.5rem 2rem 2rem;
  border: 1px solid #d0d4da; border-radius: 6px; }
footer { max-width: 52rem; margin: 0 auto 2rem; padding: 0 2rem; color: #4a4f57; font-size: .9rem; }
h1 { font-size: 1.7rem; margin: .2rem 0 1rem; color: #0b3a67; }
h2 { font-size: 1.3rem; margin: 1.6rem 0 .6rem; }
h3 { font-size: 1.1rem; margin: 1rem 0 .4rem; }
a { color: #0a4f9e; }
a:focus, button:focus, input:focus { outline: 3px solid #e07b00; outline-offset: 2px; }
.field { margin: 1.2rem 0; }
label { display: block; font-weight: 600; margin-bottom: .2rem; }
.hint { margin: 0 0 .4rem; color: #4a4f57; font-size: .95rem; }
input[type=email], input[type=file] { font: inherit; width: 100%; max-width: 34rem; padding: .45rem;
  border: 2px solid #5c636e; border-radius: 4px; background: #fff; }
input[aria-invalid=true] { border-color: #b00020; }
button { font: inherit; font-weight: 600; color: #fff; background: #0b3a67; border: 2px solid #0b3a67;
  border-radius: 4px; padding: .55rem 1.3rem; cursor: pointer; }
button:hover { background: #072a4b; }
.error-summary { border: 3px solid #b00020; padding: .6rem 1rem; margin: 1rem 0; border-radius: 4px; }
.error-summary h2 { margin-top: .2rem; color: #b00020; font-size: 1.15rem; }
.field-error { color: #b00020; font-weight: 600; margin: 0 0 .3rem; }
.file { border-top: 1px solid #d0d4da; padding-top: .4rem; margin-top: 1.4rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .6rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.hash { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem; }
.check { border-left: 6px solid #5c636e; background: #f4f5f7; padding: .5rem 1rem; margin: .8rem 0; }
.check h3 { margin-top: .3rem; }
.ok { border-left-color: #1d6b36; } .ok h3, .ok .symbol { color: #1d6b36; }
.warn { border-left-color: #8a5300; } .warn h3, .warn .symbol { color: #8a5300; }
.bad { border-left-color: #b00020; } .bad h3, .bad .symbol { color: #b00020; }
.reasons li { margin: .35rem 0; }
.detail { color: #4a4f57; font-size: .9rem; }
.status { font-size: 1.5rem; font-weight: 700; margin: .6rem 0; padding: .6rem 1rem; border-left: 6px solid #5c636e;
  background: #f4f5f7; }
.status.ok { color: #1d6b36; border-left-color: #1d6b36; } .status.bad { color: #b00020; border-left-color: #b00020; }
.status.warn { color: #8a5300; border-left-color: #8a5300; }
ol.steps { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem; margin: 1rem 0; }
ol.steps li { padding: .3rem .7rem; border: 1px solid #9aa1ab; border-radius: 999px; color: #4a4f57; }
ol.steps li.done { border-color: #1d6b36; color: #1d6b36; }
ol.steps li[aria-current=step] { background: #0b3a67; border-color: #0b3a67; color: #fff; font-weight: 700; }
@media print { header, footer, .skip, form { display: none; } main { border: 0; margin: 0; } }
""".strip()


def css_hash() -> str:
    """The CSP source for the inline stylesheet: ``'sha256-…'`` over its exact text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii") + "'"


BASE = """<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{% block title %}{% endblock %} – E-Rechnungseingang</title>
<style>{{ css }}</style>
</head>
<body>
<a class="skip" href="#inhalt">Zum Inhalt springen</a>
<header><p>E-Rechnungseingang</p></header>
<main id="inhalt" tabindex="-1">
{% block main %}{% endblock %}
</main>
<footer><p>Angenommen werden elektronische Rechnungen im Format XRechnung (XML) und ZUGFeRD/Factur-X (PDF).</p></footer>
</body>
</html>
"""

UPLOAD = """{% extends "base.html" %}
{% block title %}E-Rechnung einreichen{% endblock %}
{% block main %}
<h1>E-Rechnung einreichen</h1>
<p>Hier können Sie uns elektronische Rechnungen übermitteln: <strong>XRechnung</strong> (XML-Datei, UBL oder CII)
und <strong>ZUGFeRD / Factur-X</strong> (PDF-Datei mit eingebetteten Rechnungsdaten). Ein PDF ohne eingebettete
Rechnungsdaten, zum Beispiel ein Scan, ist keine E-Rechnung.</p>
{% if errors %}
<div class="error-summary" role="alert" aria-labelledby="fehler-titel">
<h2 id="fehler-titel">Bitte prüfen Sie Ihre Angaben</h2>
<ul>{% for error in errors %}<li><a href="#{{ error.field }}">{{ error.text }}</a></li>{% endfor %}</ul>
</div>
{% endif %}
<form method="post" action="{{ base }}/upload" enctype="multipart/form-data">
<div class="field">
<label for="files">Rechnungsdateien (Pflichtangabe)</label>
<p class="hint" id="files-hint">Eine oder mehrere Dateien auswählen, höchstens {{ max_files }} auf einmal.
Größe je Datei: XML bis {{ xml_limit }}, PDF bis {{ pdf_limit }}.</p>
{% if files_error %}<p class="field-error" id="files-error">{{ files_error }}</p>{% endif %}
<input type="file" id="files" name="files" multiple required
 accept=".xml,.pdf,application/xml,text/xml,application/pdf"
 aria-describedby="files-hint{% if files_error %} files-error{% endif %}"{% if files_error %} aria-invalid="true"{% endif %}>
</div>
<div class="field">
<label for="email">Ihre E-Mail-Adresse (freiwillig)</label>
<p class="hint" id="email-hint">Für Rückfragen zu Ihren Rechnungen. Sie wird nur dafür verwendet.</p>
{% if email_error %}<p class="field-error" id="email-error">{{ email_error }}</p>{% endif %}
<input type="email" id="email" name="email" autocomplete="email" maxlength="254" value="{{ email }}"
 aria-describedby="email-hint{% if email_error %} email-error{% endif %}"{% if email_error %} aria-invalid="true"{% endif %}>
</div>
<button type="submit">Rechnungen hochladen</button>
</form>
<h2>Was passiert danach?</h2>
<p>Sie erhalten sofort eine Eingangsbestätigung mit einer Eingangsnummer und einem persönlichen Statuslink für
jede Datei. Jede Rechnung wird anschließend automatisch nach den Regeln der XRechnung und der europäischen Norm
EN 16931 geprüft. Über den Statuslink sehen Sie, ob sie angenommen wurde oder was zu korrigieren ist.</p>
{% endblock %}
"""

CHECK = """{% macro reasons_list(items) %}
<ul class="reasons">
{% for r in items %}<li><strong>{{ r.severity }}:</strong> {{ r.text }}{% if r.detail or r.rule_id %}
<br><span class="detail">{% if r.rule_id %}Regel {{ r.rule_id }}{% endif %}{% if r.rule_id and r.detail %}: {% endif %}{{ r.detail }}</span>{% endif %}</li>
{% endfor %}
</ul>
{% endmacro %}
"""

RECEIPT = """{% extends "base.html" %}
{% from "check.html" import reasons_list %}
{% block title %}Eingangsbestätigung{% endblock %}
{% block main %}
<h1>Eingangsbestätigung</h1>
{% if accepted %}
<p>{% if accepted == 1 %}Eine Datei ist{% else %}{{ accepted }} Dateien sind{% endif %} am {{ received }} bei uns
eingegangen und gespeichert.{% if refused %} {{ refused }} Datei{% if refused != 1 %}en{% endif %} konnte{% if refused != 1 %}n{% endif %} nicht angenommen werden (siehe unten).{% endif %}</p>
<p>Bitte bewahren Sie die Statuslinks auf: Über sie sehen Sie jederzeit, wie weit Ihre Rechnung bearbeitet ist.
Die Sofortprüfung unten ist vorläufig; verbindlich ist das Ergebnis, das der Statuslink zeigt.</p>
{% else %}
<p>Keine der Dateien konnte angenommen werden (siehe unten).</p>
{% endif %}
{% for entry in entries %}
<section class="file" aria-labelledby="datei-{{ loop.index }}">
<h2 id="datei-{{ loop.index }}">{{ entry.file_name or "(Datei ohne Namen)" }}</h2>
{% if entry.item_id %}
<dl class="facts">
<dt>Eingangsnummer</dt><dd>{{ entry.item_id }}</dd>
<dt>Eingegangen am</dt><dd>{{ entry.received }}</dd>
<dt>Größe</dt><dd>{{ entry.size }}</dd>
<dt>Prüfsumme (SHA-256)</dt><dd class="hash">{{ entry.sha256 }}</dd>
<dt>Statuslink</dt><dd><a href="{{ entry.status_path }}">Status der Rechnung {{ entry.item_id }} ansehen</a>
<br><span class="hash">{{ entry.status_url }}</span></dd>
</dl>
{% set check = entry.check %}
{% if check %}
<div class="check {{ {'valid': 'ok', 'review': 'warn'}.get(check.outcome, 'bad') }}">
<h3><span class="symbol" aria-hidden="true">{{ {'valid': '✔', 'review': '!'}.get(check.outcome, '✘') }}</span>
Sofortprüfung: {{ check.headline }}</h3>
<p>{{ check.text }}</p>
{% if check.reasons %}{{ reasons_list(check.reasons) }}{% endif %}
{% if check.notes %}<h4>Hinweise</h4>{{ reasons_list(check.notes) }}{% endif %}
</div>
{% else %}
<div class="check"><h3>Sofortprüfung nicht möglich</h3>
<p>Die Sofortprüfung konnte nicht durchgeführt werden. Ihre Rechnung ist trotzdem eingegangen und wird geprüft.</p></div>
{% endif %}
{% else %}
<div class="check bad"><h3><span class="symbol" aria-hidden="true">✘</span> Nicht angenommen</h3>
<p>{{ entry.refusal }}</p></div>
{% endif %}
</section>
{% endfor %}
<p><a href="{{ base }}/upload">Weitere Rechnungen hochladen</a></p>
{% endblock %}
"""

STATUS = """{% extends "base.html" %}
{% from "check.html" import reasons_list %}
{% block title %}Status Ihrer Rechnung {{ item_id }}{% endblock %}
{% block main %}
<h1>Status Ihrer Rechnung</h1>
<p>Eingangsnummer: <strong>{{ item_id }}</strong></p>
<p class="status {{ {'accepted': 'ok', 'in_approval': 'ok', 'payment_released': 'ok', 'rejected': 'bad'}.get(status.code, 'warn') }}"
 role="status"><span aria-hidden="true">{{ {'accepted': '✔', 'in_approval': '✔', 'payment_released': '✔', 'rejected': '✘'}.get(status.code, '…') }}</span>
{{ status.label }}</p>
<p>{{ status.text }}</p>
{% if status.reasons %}
<h2>{% if status.code == 'rejected' %}Gründe{% else %}Festgestellte Punkte{% endif %}</h2>
{{ reasons_list(status.reasons) }}
{% endif %}
{% if status.code != 'rejected' %}
<h2 id="ablauf">Ablauf</h2>
<ol class="steps" aria-labelledby="ablauf">
{% for code, label in steps %}<li{% if code == status.code %} aria-current="step"{% elif loop.index0 < current_index %} class="done"{% endif %}>{% if loop.index0 < current_index %}<span aria-hidden="true">✓ </span>{% endif %}{{ label }}{% if loop.index0 < current_index %}<span class="visually-hidden"> (erledigt)</span>{% elif code == status.code %}<span class="visually-hidden"> (aktueller Stand)</span>{% endif %}</li>{% endfor %}
</ol>
{% endif %}
{% endblock %}
"""

ERROR = """{% extends "base.html" %}
{% block title %}{{ title }}{% endblock %}
{% block main %}
<h1>{{ title }}</h1>
<p>{{ text }}</p>
{% if reference %}<p>Fehlerkennung: <span class="hash">{{ reference }}</span></p>{% endif %}
<p><a href="{{ base }}/upload">Zur Seite „E-Rechnung einreichen“</a></p>
{% endblock %}
"""

TEMPLATES = {
    "base.html": BASE,
    "upload.html": UPLOAD,
    "check.html": CHECK,
    "receipt.html": RECEIPT,
    "status.html": STATUS,
    "error.html": ERROR,
}


def environment() -> Environment:
    env = Environment(loader=DictLoader(TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["css"] = Markup(CSS)  # constant, ours: its hash is in the CSP
    return env
