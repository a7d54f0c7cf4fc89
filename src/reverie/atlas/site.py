"""The atlas as a static website that works offline from any file server (or straight from the disk).

``index.html`` lists the layers and has a jump box; ``layers/LAYER.html`` shows every unit's thumbnail
(lazy-loaded) with an anchor per unit; ``units/LAYER/UNIT.html`` shows one unit: its visualization,
negative, diversity batch, dataset examples and measures. A unit's stable address is ``#LAYER:UNIT``
(``index.html#blocks.9:7`` opens unit 7 of blocks.9; on a layer page it scrolls to the unit's card).
Every page is written atomically; the data each page needs is in the page (no fetch, so ``file://``
works).
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reverie.atlas.plan import file_part
from reverie.io.atomic import atomic_path

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem;
       color: #1d1d1f; background: #fafafa; }
a { color: #0b57d0; } h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; }
nav { margin-bottom: .8rem; } .meta { color: #555; font-size: .9rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr)); gap: .6rem; }
.unit { display: block; text-decoration: none; color: inherit; background: #fff; border: 1px solid #ddd;
        border-radius: 6px; padding: 4px; }
.unit img { width: 100%; aspect-ratio: 1; display: block; border-radius: 4px; background: #eee; }
.unit:target { outline: 3px solid #0b57d0; }
.flag { font-size: .75rem; background: #fde7e7; color: #8a1c1c; border-radius: 3px; padding: 0 4px; }
.views { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.views figure { margin: 0; } .views img { max-width: 100%; image-rendering: auto; border-radius: 4px; }
.examples { display: grid; grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)); gap: .5rem; }
.examples figure { margin: 0; font-size: .75rem; color: #555; overflow-wrap: anywhere; }
.examples img { width: 100%; border-radius: 4px; }
table { border-collapse: collapse; } td, th { padding: 2px 10px 2px 0; text-align: left; }
code { background: #eee; padding: 1px 4px; border-radius: 3px; }
input { font: inherit; padding: 3px 6px; }
"""

# Jumps to a unit from "LAYER:UNIT" (typed, or after '#' in the address). UNITS maps each layer to its
# units' page folder and unit numbers; ROOT is the path from this page to the atlas folder.
SCRIPT = """
function unitUrl(text) {
  var at = text.lastIndexOf(":");
  if (at < 1) return null;
  var layer = text.slice(0, at), unit = text.slice(at + 1), entry = UNITS[layer];
  if (!entry || entry.units.indexOf(Number(unit)) < 0 || String(Number(unit)) !== unit) return null;
  return ROOT + "units/" + entry.folder + "/" + unit + ".html";
}
function jump(text) {
  var url = unitUrl(text.trim());
  var note = document.getElementById("jump-note");
  if (url) { window.location.href = url; return false; }
  if (note) note.textContent = "no unit " + text + " (write LAYER:UNIT, e.g. " + EXAMPLE + ")";
  return false;
}
if (window.location.hash.length > 1 && !document.getElementById(decodeURIComponent(window.location.hash.slice(1)))) {
  var target = unitUrl(decodeURIComponent(window.location.hash.slice(1)));
  if (target) window.location.replace(target);
}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def _url(path: str) -> str:
    return quote(path, safe="/")


def _page(title: str, root: str, body: str, units_js: str, example: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
            f"<script>var ROOT = {json.dumps(root)}; var UNITS = {units_js}; var EXAMPLE = {json.dumps(example)};"
            f"</script><script>{SCRIPT}</script></head>\n<body>\n{body}\n</body></html>\n")


def _jump_box() -> str:
    return ('<form onsubmit="return jump(this.unit.value)"><label>Jump to unit '
            '<input name="unit" placeholder="blocks.9:7" aria-label="unit"></label> <button>Go</button> '
            '<span id="jump-note" class="meta"></span></form>')


def _flags(row: dict[str, Any]) -> str:
    names = [name for name in ("dead", "grey") if row.get(name)]
    return "".join(f' <span class="flag">{name}</span>' for name in names)


def write_site(folder: Path, info: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    """Write every page of the atlas in ``folder`` from its manifest ``rows``; returns index.html."""
    layers: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        layers.setdefault(row["layer"], []).append(row)
    units_js = json.dumps({layer: {"folder": _url(file_part(layer)), "units": [r["unit"] for r in units]}
                           for layer, units in layers.items()}, sort_keys=True)
    first = f"{rows[0]['layer']}:{rows[0]['unit']}" if rows else "blocks.9:7"
    model = html.escape(info["model"])
    settings = info["settings"]
    described = (f"{settings['size']} px, {settings['steps']} steps, seed {settings['seed']}"
                 + (", negatives" if settings["negative"] else "")
                 + (f", diversity {settings['diversity']}" if settings["diversity"] else ""))

    items = []
    for layer, units in layers.items():
        flagged = sum(1 for row in units if row["dead"] or row["grey"])
        note = f", {flagged} dead or grey" if flagged else ""
        items.append(f'<li><a class="layer" href="layers/{_url(file_part(layer))}.html">{html.escape(layer)}</a> '
                     f'<span class="meta">{len(units)} units{note}</span></li>')
    body = (f"<h1>Atlas of {model}</h1>"
            f'<p class="meta">weights {info["model_hash"][:12]} · {described} · made by Reverie '
            f'{html.escape(info["version"])}</p>{_jump_box()}<h2>Layers</h2><ul id="layers">{"".join(items)}</ul>'
            f'<p class="meta">Address any unit as <code>index.html#LAYER:UNIT</code>, e.g. '
            f'<a href="#{html.escape(first)}">#{html.escape(first)}</a>. The manifest: '
            f'<a href="manifest.parquet">manifest.parquet</a>.</p>')
    index = folder / "index.html"
    _write(index, _page(f"Atlas of {info['model']}", "", body, units_js, first))

    for layer, units in layers.items():
        name = html.escape(layer)
        cards = []
        for row in units:
            anchor = html.escape(f"{layer}:{row['unit']}")
            cards.append(f'<a class="unit" id="{anchor}" href="../units/{_url(file_part(layer))}/{row["unit"]}.html">'
                         f'<img loading="lazy" src="../{_url(row["image"])}" alt="{name} unit {row["unit"]}" '
                         f'width="{settings["size"]}" height="{settings["size"]}">'
                         f'{row["unit"]}{_flags(row)}</a>')
        body = (f'<nav><a href="../index.html">{model}</a> › {name}</nav><h1>{name}</h1>'
                f'<p class="meta">{len(units)} units · {described}</p>{_jump_box()}'
                f'<div class="grid">{"".join(cards)}</div>')
        _write(folder / "layers" / f"{file_part(layer)}.html", _page(f"{layer} · {info['model']}", "../", body,
                                                                     units_js, first))
        for position, row in enumerate(units):
            _write(folder / "units" / file_part(layer) / f"{row['unit']}.html",
                   _unit_page(info, layer, row, units, position, units_js, first, described))
    return index


def _unit_page(info: dict[str, Any], layer: str, row: dict[str, Any], units: list[dict[str, Any]], position: int,
               units_js: str, first: str, described: str) -> str:
    name, unit = html.escape(layer), row["unit"]
    root = "../../"
    views = [(f'<figure><img src="{root}{_url(row["image"])}" alt="unit {unit}"><figcaption>what excites it'
              "</figcaption></figure>")]
    if row.get("negative_image"):
        views.append(f'<figure><img src="{root}{_url(row["negative_image"])}" alt="unit {unit}, negative">'
                     f"<figcaption>negative: what it responds to least</figcaption></figure>")
    if row.get("diversity_image"):
        views.append(f'<figure><img src="{root}{_url(row["diversity_image"])}" alt="unit {unit}, diversity">'
                     f"<figcaption>diversity: other things that excite it</figcaption></figure>")
    examples = "".join(f'<figure><img loading="lazy" src="{root}{_url(example["crop"])}" '
                       f'alt="dataset example {rank + 1}"><figcaption>{html.escape(example["source"])} · '
                       f'{example["score"]:.3g}</figcaption></figure>'
                       for rank, example in enumerate(row.get("examples") or []))
    neighbours = []
    if position > 0:
        neighbours.append(f'<a rel="prev" href="{units[position - 1]["unit"]}.html">← {units[position - 1]["unit"]}</a>')
    if position + 1 < len(units):
        neighbours.append(f'<a rel="next" href="{units[position + 1]["unit"]}.html">{units[position + 1]["unit"]} →</a>')
    measures = [("activation", f'{row["activation"]:.4g}'), ("on flat grey", f'{row["baseline"]:.4g}'),
                ("gain", f'{row["gain"]:.4g}'), ("pixel std", f'{row["image_std"]:.3g}')]
    if row.get("negative_activation") is not None:
        measures.append(("negative activation", f'{row["negative_activation"]:.4g}'))
    table = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in measures)
    image_name = html.escape(row["image"])
    body = (f'<nav><a href="{root}index.html">{html.escape(info["model"])}</a> › '
            f'<a href="{root}layers/{_url(file_part(layer))}.html#{html.escape(f"{layer}:{unit}")}">{name}</a> › '
            f'unit {unit} {" · ".join(neighbours)}</nav>'
            f'<h1 id="{html.escape(f"{layer}:{unit}")}">{name} unit {unit}{_flags(row)}</h1>'
            f'<p class="meta">{described}</p><div class="views">{"".join(views)}</div>'
            + (f'<h2>Dataset examples</h2><div class="examples">{examples}</div>' if examples else "")
            + f"<h2>Measures</h2><table>{table}</table>"
            f"<p class=\"meta\">Replay: <code>reverie visualize --recipe {image_name} -o unit.png</code> "
            f"(the image carries its recipe).</p>{_jump_box()}")
    return _page(f"{layer}:{unit} · {info['model']}", root, body, units_js, first)
