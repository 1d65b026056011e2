"""A self-contained HTML page: inline CSS, figures embedded as base64 PNG, no script and no link to
anything outside the file, so it opens anywhere (offline, attached to a mail, in a CI artefact)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Sequence

CSS = """
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;max-width:1100px;margin:2em auto;padding:0 1.2em}
h1{font-size:1.7em;margin-bottom:.1em}h2{border-bottom:2px solid #d6dae3;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em}.sub{color:#5a6275;margin-top:0}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.92em}
th,td{border:1px solid #d6dae3;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f1f3f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0 1.6em}figure img{max-width:100%;height:auto;border:1px solid #e3e6ec}
figcaption{color:#3d4456;font-size:.93em;max-width:62em}figcaption b{color:#1d2330}
pre{background:#f6f7f9;border:1px solid #e3e6ec;padding:.7em;overflow-x:auto;font-size:.85em}
.warn{background:#fff4e0;border-left:4px solid #e0a030;padding:.5em .8em;margin:.8em 0}
.note{background:#eef4ff;border-left:4px solid #6d8fd6;padding:.5em .8em;margin:.8em 0}
nav a{margin-right:1em}code{background:#f1f3f7;padding:0 .2em}
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


@dataclass
class Page:
    """Sections of HTML appended in order; :meth:`render` gives the whole document."""

    title: str
    subtitle: str = ""
    parts: list[str] = field(default_factory=list)
    toc: list[tuple[str, str]] = field(default_factory=list)
    figures: int = 0

    def section(self, title: str, intro: str = "") -> None:
        anchor = f"s{len(self.toc) + 1}"
        self.toc.append((anchor, title))
        self.parts.append(f'<h2 id="{anchor}">{esc(title)}</h2>')
        if intro:
            self.paragraph(intro)

    def heading(self, text: str) -> None:
        self.parts.append(f"<h3>{esc(text)}</h3>")

    def paragraph(self, text: str, css: str = "") -> None:
        cls = f' class="{css}"' if css else ""
        self.parts.append(f"<p{cls}>{esc(text)}</p>")

    def warning(self, text: str) -> None:
        self.paragraph(text, "warn")

    def note(self, text: str) -> None:
        self.paragraph(text, "note")

    def pre(self, lines: Sequence[str] | str) -> None:
        text = lines if isinstance(lines, str) else "\n".join(lines)
        self.parts.append(f"<pre>{esc(text)}</pre>")

    def details(self, summary: str, lines: Sequence[str]) -> None:
        self.parts.append(f"<details><summary>{esc(summary)}</summary><pre>{esc(chr(10).join(lines))}</pre></details>")

    def table(self, head: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()) -> None:
        num = set(numeric)
        out = ["<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
        for r in rows:
            out.append("<tr>" + "".join(f'<td class="n">{esc(c)}</td>' if i in num else f"<td>{esc(c)}</td>"
                                        for i, c in enumerate(r)) + "</tr>")
        out.append("</tbody></table>")
        self.parts.append("".join(out))

    def figure(self, png: bytes, alt: str, how_to_read: str) -> None:
        """A PNG embedded as a data URI, with a caption saying how to read it."""
        self.figures += 1
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{data}">'
                          f"<figcaption><b>Figure {self.figures}. {esc(alt)}.</b> {esc(how_to_read)}</figcaption></figure>")

    def render(self) -> str:
        nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in self.toc)
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{esc(self.title)}</title><style>{CSS}</style></head><body>"
                f"<h1>{esc(self.title)}</h1><p class=\"sub\">{esc(self.subtitle)}</p><nav>{nav}</nav>"
                + "\n".join(self.parts) + "</body></html>\n")
