"""The UI's stylesheet, served as ``/static/ui.css`` (the CSP allows ``style-src 'self'`` on UI pages,
no inline style, no script): the public pages' style (`einvoice.web.templates.CSS`) plus navigation,
tables, forms and the invoice page. Colours keep a contrast of at least 4.5:1; focus is always visible."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..templates import CSS as BASE_CSS

UI_CSS = BASE_CSS + """
main { max-width: 76rem; }
footer { max-width: 76rem; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 2rem; }
header nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; margin: 0; padding: 0; }
header nav a { color: #fff; font-weight: 600; text-decoration: none; padding: .2rem 0; border-bottom: 3px solid transparent; }
header nav a:hover, header nav a[aria-current=page] { border-bottom-color: #fff; }
header a:focus, header button:focus { outline: 3px solid #ffbf47; outline-offset: 2px; }
.who { margin-left: auto; display: flex; align-items: center; gap: 1rem; }
.who form { margin: 0; }
.who button { background: #fff; color: #0b3a67; border-color: #fff; padding: .25rem .9rem; }
.who button:hover { background: #dfe7f0; }
input[type=text], input[type=password], input[type=search], select, textarea { font: inherit; padding: .4rem;
  border: 2px solid #5c636e; border-radius: 4px; background: #fff; color: #1b1b1b; max-width: 100%; }
input[type=text], input[type=password] { width: 100%; max-width: 24rem; }
textarea { width: 100%; max-width: 40rem; min-height: 4rem; }
select:focus, textarea:focus, summary:focus { outline: 3px solid #e07b00; outline-offset: 2px; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: flex-end; margin: .5rem 0 1rem; }
.filters .field { margin: 0; }
.filters input[type=text], .filters input[type=search] { width: 12rem; }
.filters input.amount { width: 7rem; }
.filters input, .filters select, .filters button { height: 2.75rem; }
button.secondary { background: #fff; color: #0b3a67; }
button.secondary:hover { background: #e8eef5; }
button.danger { background: #9b0017; border-color: #9b0017; }
table.list { border-collapse: collapse; width: 100%; font-size: .95rem; }
table.list caption { text-align: left; font-weight: 600; padding: .3rem 0; color: #4a4f57; }
table.list th, table.list td { border-bottom: 1px solid #d0d4da; padding: .45rem .5rem; text-align: left; vertical-align: top; }
table.list thead th { background: #eef1f5; border-bottom: 2px solid #5c636e; }
table.list .num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.tag { display: inline-block; padding: 0 .45rem; border-radius: 4px; font-size: .85rem; font-weight: 600;
  border: 1px solid currentColor; }
.tag.bad { color: #9b0017; } .tag.warn { color: #7a4a00; } .tag.info { color: #0a4f9e; } .tag.ok { color: #1d6b36; }
.pager { display: flex; gap: 1rem; margin: 1rem 0; }
.message { border-left: 6px solid #0a4f9e; background: #eef4fb; padding: .6rem 1rem; margin: 1rem 0; }
.message.bad { border-left-color: #b00020; background: #fdecee; }
.message.ok { border-left-color: #1d6b36; background: #e9f5ec; }
.actions { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: 1rem; }
.actions form { border: 1px solid #d0d4da; border-radius: 6px; padding: .6rem 1rem 1rem; margin: 0; }
.actions h3 { margin-top: .2rem; }
.actions .field { margin: .5rem 0; }
ol.workflow { padding-left: 1.4rem; }
ol.workflow li { margin: .4rem 0; }
details { margin: .6rem 0; }
summary { cursor: pointer; font-weight: 600; color: #0a4f9e; }
.small { font-size: .9rem; color: #4a4f57; }
.queue-item { border-top: 2px solid #d0d4da; padding-top: .4rem; margin-top: 1rem; }
.queue-item h4 { margin: .2rem 0 .4rem; }
ul.toc { list-style: none; display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; padding: 0; }
figure.chart { margin: 1rem 0; overflow-x: auto; }
figure.chart svg { max-width: 100%; height: auto; }
figure.chart figcaption { font-size: .9rem; color: #4a4f57; }
input[type=date] { font: inherit; padding: .35rem; border: 2px solid #5c636e; border-radius: 4px; }
input[type=date]:focus { outline: 3px solid #e07b00; outline-offset: 2px; }
ul.sections { list-style: none; padding: 0; }
ul.sections h2 { margin-bottom: .2rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 60rem; font-size: .85rem; }
input[type=file] { font: inherit; }
@media print { nav, .who, .actions, .filters { display: none; } }
"""

ETAG = '"' + hashlib.sha256(UI_CSS.encode()).hexdigest()[:16] + '"'
router = APIRouter(include_in_schema=False)


@router.get("/static/ui.css")
async def stylesheet(request: Request):
    headers = {"Cache-Control": "public, max-age=3600", "ETag": ETAG}
    if request.headers.get("if-none-match") == ETAG:
        return Response(status_code=304, headers=headers)
    return Response(UI_CSS, media_type="text/css; charset=utf-8", headers=headers)
