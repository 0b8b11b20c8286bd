"""The Verfahrensdokumentation as Markdown and as one self-contained HTML page (Jinja2).

Both templates walk the same `content.Document`. HTML is autoescaped (workflow and rule names come
from administrators; nothing is trusted as markup) and has no external resources or scripts;
`` `command` `` spans become ``<code>``. In Markdown, configuration values are escaped where they
could change the structure (``|`` and line breaks in table cells) or smuggle HTML into a Markdown
renderer (``<``, ``>``, ``&`` become entities).
"""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from .content import Document

_CODE = re.compile(r"`([^`]+)`")

MARKDOWN = """\
{%- macro section(s, level) %}
{{ "#" * level }} {{ s.number }} {{ s.title | md }}
{% for b in s.blocks %}{{ block(b) }}{% endfor %}
{%- for sub in s.sections %}{{ section(sub, level + 1) }}{% endfor %}
{%- endmacro %}
{%- macro block(b) %}
{%- if b.kind == "p" %}
{{ b.text | md }}
{% elif b.kind == "list" and b.items %}
{% for item in b.items %}- {{ item | md }}
{% endfor %}
{%- elif b.kind == "table" %}
| {% for h in b.headers %}{{ h | cell }} | {% endfor %}
|{% for h in b.headers %}---|{% endfor %}
{% for row in b.rows %}| {% for v in row %}{{ v | cell }} | {% endfor %}
{% endfor %}
{%- endif %}
{%- endmacro -%}
# {{ doc.title | md }}

{{ doc.subtitle | md }}
{% for s in doc.sections %}{{ section(s, 2) }}{% endfor %}
"""

HTML = """\
{%- macro section(s, level) %}
<section>
<h{{ level }} id="s{{ s.number }}">{{ s.number }} {{ s.title }}</h{{ level }}>
{% for b in s.blocks %}{{ block(b) }}{% endfor %}
{%- for sub in s.sections %}{{ section(sub, level + 1) }}{% endfor %}
</section>
{%- endmacro %}
{%- macro block(b) %}
{%- if b.kind == "p" %}
<p>{{ b.text | inline }}</p>
{%- elif b.kind == "list" and b.items %}
<ul>{% for item in b.items %}<li>{{ item | inline }}</li>{% endfor %}</ul>
{%- elif b.kind == "table" %}
<table><thead><tr>{% for h in b.headers %}<th scope="col">{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in b.rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>
{%- endif %}
{%- endmacro -%}
<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ doc.title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.5rem} h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc} h3{font-size:1.05rem}
h4{font-size:.95rem} table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:left;vertical-align:top;font-size:.88rem}
th{background:#f2f2f2} code{background:#f4f4f4;padding:0 .2rem}
@media print{body{margin:0;max-width:none} section{break-inside:auto} h2{break-after:avoid}}
</style></head>
<body>
<h1>{{ doc.title }}</h1>
<p>{{ doc.subtitle }}</p>
<nav><ul>{% for s in doc.sections %}<li><a href="#s{{ s.number }}">{{ s.number }} {{ s.title }}</a></li>{% endfor %}</ul></nav>
{% for s in doc.sections %}{{ section(s, 2) }}{% endfor %}
</body></html>
"""


def _md(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    return " ".join(_md(text).replace("\\", "\\\\").replace("|", "\\|").split())


def _inline(text: str) -> Markup:
    return Markup(_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=DictLoader({"procedure.md": MARKDOWN, "procedure.html": HTML}),
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
                      undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters.update(md=_md, cell=_cell, inline=_inline)
    return env


def to_markdown(doc: Document) -> str:
    return _environment().get_template("procedure.md").render(doc=doc)


def to_html(doc: Document) -> str:
    return _environment().get_template("procedure.html").render(doc=doc)
