"""One self-contained HTML report: tables and figures (PNG embedded as base64), nothing linked."""

import base64
import html
import os


def _figure(path):
    with open(path, "rb") as handle:
        encoded = base64.b64encode(handle.read()).decode("ascii")
    name = html.escape(os.path.basename(path))
    return f'<figure><img alt="{name}" src="data:image/png;base64,{encoded}"><figcaption>{name}</figcaption></figure>'


def _section(outcome):
    report = outcome.report
    parts = [f'<section id="{report.name}"><h2>{html.escape(report.name)}</h2>',
             f"<p>{html.escape(report.description)}; options {html.escape(repr(report.options))}</p>"]
    rows = "".join(
        f"<tr><td>{m}</td><td>{c:.2f}</td><td>{r:.2f}</td><td>{html.escape(_status(report, m))}</td></tr>"
        for m, (c, r) in report.timings.items()
    )
    parts.append("<table class=\"timings\"><thead><tr><th>method</th><th>compile (s)</th><th>run (s)</th>"
                 f"<th>status</th></tr></thead><tbody>{rows}</tbody></table>")
    parts.append(f"<h3>Estimates</h3>{report.table.to_html(float_format=lambda v: f'{v:.4g}', na_rep='', border=0)}")
    for title, table in outcome.tables.items():
        parts.append(f"<h3>{html.escape(title)}</h3>{table.to_html(float_format=lambda v: f'{v:.4g}', na_rep='', border=0)}")
    parts.extend(_figure(path) for path in outcome.figures)
    parts.append("</section>")
    return "\n".join(parts)


def _status(report, method):
    if method in report.failures:
        return "failed: " + report.failures[method]
    return "converged" if report.fits[method].converged else "not converged"


def write_html(outcomes, path, *, title, settings):
    """Write the report of every script's :class:`common.Outcome` to ``path``; returns ``path``."""
    contents = "".join(f'<li><a href="#{o.report.name}">{o.report.name}</a></li>' for o in outcomes)
    body = "\n".join(_section(o) for o in outcomes)
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 1200px; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: right; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(settings)}</p>
<ul>{contents}</ul>
{body}
</body>
</html>
"""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(document)
    os.replace(tmp, path)
    return path
