"""The HTML dossier: one self-contained file rendered from the JSON twin alone.

No network requests and no external assets: styles are inline, figures are inline SVG drawn from
the twin's data, there is no script. A Content-Security-Policy of ``default-src 'none'`` (with
inline styles and data: images allowed) makes any accidental external reference fail closed in a
browser. It reads top-down for a non-engineer (summary first), then for an expert (methods, exact
p-values, commands, fingerprints, chain of custody). Long tables show the first rows of the twin's
``items`` and say how many more the JSON and the bundle hold.
"""

from __future__ import annotations

from html import escape
from typing import Any

from . import plots

__all__ = ["render_html"]

CSS = """
:root{--ink:#1f2933;--muted:#52606d;--line:#d9e2ec;--accent:#b42318;--bg:#f7f9fb}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 "DejaVu Sans",system-ui,sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:980px;margin:0 auto;padding:16px}header{background:#102a43;color:#fff;padding:20px 16px}
header div{max-width:980px;margin:0 auto}header h1{margin:0 0 4px;font-size:1.6em}header p{margin:0;color:#bcccdc;font-size:.9em}
nav{max-width:980px;margin:0 auto;padding:8px 16px;font-size:.9em}nav a{margin-right:12px;color:#1769aa}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:16px 0}
h2{margin-top:0;font-size:1.3em;border-bottom:2px solid var(--accent);padding-bottom:4px}h3{font-size:1.05em}
.lead{font-size:1.08em}.lead li{margin:6px 0}.sure{border-left:4px solid var(--accent);padding:6px 12px;background:#fff5f5}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:.85em;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f4f8}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}code,pre{font:12px/1.4 "DejaVu Sans Mono",monospace}
pre{background:#f0f4f8;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.plot{width:100%;height:auto;max-height:360px}.more{color:var(--muted);font-size:.85em}.yes{color:var(--accent);font-weight:bold}
.muted{color:var(--muted)}code.id{word-break:break-all}span.id{white-space:nowrap}
details{margin:8px 0}summary{cursor:pointer;color:#1769aa;font-weight:bold}
@media (max-width:600px){body{font-size:15px}main{padding:8px}section{padding:12px}th,td{padding:3px 5px}td code.id{display:inline-block;min-width:12em}}
@media print{body{background:#fff}nav{display:none}section{break-inside:avoid-page;border:none;padding:0}header{background:#fff;color:#000}
header p{color:#333}.scroll{overflow:visible}}
"""


_KINDS = {"ip": "IP address", "user_agent": "user agent", "payment_fingerprint": "payment"}


def _n(x: Any) -> str:
    """A number as shown: integers with thousands separators, others to three significant digits."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.0f}" if x.is_integer() and abs(x) < 1e15 else f"{x:.3g}"
    return escape(str(x))


def _t(x: Any) -> str:
    return escape("" if x is None else str(x))


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _more(page: dict[str, Any], what: str) -> str:
    if page["total"] <= page["shown"]:
        return ""
    return (f'<p class="more">Showing {_n(page["shown"])} of {_n(page["total"])} {escape(what)}; '
            "all are in report.json and in the evidence bundle.</p>")


def _summary(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    items = "".join(f"<li>{_t(x)}</li>" for x in s["statements"])
    rests = "".join(f"<li>{_t(x)}</li>" for x in s["rests_on"])
    return (f'<section id="summary"><h2>Summary</h2><h3>What happened</h3><ul class="lead">{items}</ul>'
            f'<h3>How sure</h3><p class="sure">{_t(s["how_sure"])}</p><h3>What it rests on</h3><ul>{rests}</ul>'
            "<p class=\"muted\">Every figure in this report, with its null hypothesis, test, exact p-value, correction and the "
            "command that reproduces it, is in the Methods section and in the machine-readable twin report.json.</p></section>")


def _campaign(c: dict[str, Any] | None) -> str:
    if not c:
        return '<section id="campaign"><h2>The campaign</h2><p>No traffic findings were added to this case.</p></section>'
    camps = _table(["campaign", "accounts", "requests", "× human-feasible rate", "score", "signals that fired"],
                   [[f'<span class="id">{_t(x["campaign_id"])}</span>', _n(x["n_accounts"]), _n(x["exchanges"]),
                     _n(x["human_rate_multiple"]), _n(x["score"]), _t(", ".join(x["fired"] or []))] for x in c["campaigns"]], {1, 2, 3, 4})
    acc = c["accounts"]
    accounts = _table(["account", "campaign", "requests", "× human rate", "score", "signals that fired"],
                      [[f'<span class="id">{_t(a["account_id"])}</span>', f'<span class="id">{_t(a["campaign_id"])}</span>',
                        _n(a["exchanges"]), _n(a["human_rate_multiple"]), _n(a["score"]), _t(", ".join(a["fired"] or []))]
                       for a in acc["items"]], {2, 3, 4})
    inf = c["infrastructure"]

    def infra_rows(rows: list[dict[str, Any]]) -> str:
        return _table(["kind", "value", "accounts sharing it", "requests"],
                      [[_t(_KINDS.get(r["kind"], r["kind"])), f'<code class="id">{_t(r["value"])}</code>', _n(r["accounts"]),
                        _n(r["exchanges"])] for r in rows], {2, 3})

    infra = (infra_rows(inf["items"][:10]) + (f"<details><summary>More shared values</summary>{infra_rows(inf['items'][10:])}"
                                               f"{_more(inf, 'shared values')}</details>" if inf["shown"] > 10 else "")) \
        if inf["total"] else "<p>No address, user agent or payment fingerprint in the exhibited exchanges is shared by two or more accounts.</p>"
    tl = c["timeline"]
    timeline = (plots.timeline_svg(tl["bins"])
                + f'<p>Peak: {_n(tl["peak_per_hour"])} exhibited requests in one hour, from {_n(tl["exhibited_accounts"])} accounts '
                f'in all (as many people, reading full-time, could sustain about {_n(tl["human_feasible_per_hour"])} per hour).</p>') if tl["bins"] else \
        "<p>No exchanges are exhibited, so no timeline is drawn.</p>"
    return (f'<section id="campaign"><h2>The campaign</h2><p>The traffic monitor scanned {_n(c["log_rows"])} requests from '
            f'{_n(c["accounts_scanned"])} accounts and flagged {_n(c["flagged_accounts"])}. One person reading every answer could '
            f'sustain about {_n(c["human_rate_per_hour"])} requests per hour (the human-feasible rate); volumes below are multiples of it.</p>'
            f"<h3>Campaigns</h3>{camps}<h3>Volume against the human-feasible rate</h3>{plots.volume_svg(c['campaigns']) if c['campaigns'] else ''}"
            f"<h3>Timeline</h3>{timeline}<h3>Shared infrastructure</h3>{infra}"
            f"<details><summary>Flagged accounts ({_n(acc['total'])})</summary>{accounts}{_more(acc, 'flagged accounts')}</details></section>")


def _watermark(w: dict[str, Any] | None) -> str:
    if not w:
        return '<section id="watermark"><h2>Watermark evidence</h2><p>No leaked texts were tested in this case.</p></section>'
    rows = w["rows"]
    table = _table(["text", "tuples scored", "p-value", "p across texts (Šidák)", "ours?", "account", "account p (Šidák)"],
                   [[_t(f'{r["source"]}:{r["line"]}'), _n(r["n_scored"]), _n(r["p_value"]), _n(r.get("p_value_across_texts")),
                     '<span class="yes">yes</span>' if r.get("detected") else "no", _t(r["account"] or "—"), _n(r["account_p_value"])]
                    if r["error"] is None else [_t(f'{r["source"]}:{r["line"]}'), "—", "—", "—", "not scored", "—", _t(r["error"])]
                    for r in rows["items"]], {1, 2, 3, 6})
    attributed = "".join(f"<li>{_t(a['account'])}: {_n(a['texts'])} text(s)</li>" for a in w["attributed"]) or "<li>none</li>"
    return (f'<section id="watermark"><h2>Watermark evidence</h2><p>{_n(w["texts"])} leaked texts were tested for our watermark; '
            f'{_n(w["detected"])} carry it at p ≤ {_n(w["alpha"])} after correcting for the number of texts tested.</p>'
            f'<p><b>Null hypothesis.</b> {_t(w["null_hypothesis"])}</p><p><b>Correction.</b> {_t(w["correction"])}.</p>'
            f"{plots.pvalues_svg(rows['items'], w['alpha']) if w['scored'] else ''}<h3>Texts traced to accounts</h3><ul>{attributed}</ul>"
            f"<h3>Every text tested</h3>{table}{_more(rows, 'texts')}</section>")


def _combined_cell(c: dict[str, Any] | None) -> str:
    if not c:
        return "—"
    return f'{_n(c["p_value"])} ({_t(", ".join(c["accounts"]))})'


def _suspect(s: dict[str, Any] | None) -> str:
    if not s:
        return '<section id="suspect"><h2>The suspect model</h2><p>No radioactivity test was added to this case.</p></section>'
    both = any(r.get("combined") for r in s["results"])
    cols = ["role", "setting", "tuples scored", "green", "p-value"] + (["with harvest accounts: p-value", "judged on"] if both else [])
    table = _table(cols + ["significant", "closest account (Šidák p)"],
                   [[_t(r["role"]), _t(r["setting"]), _n(r["n_scored"]), _n(r["n_green"]), _n(r["p_value"])]
                    + ([_combined_cell(r.get("combined")), _n(r["verdict_p_value"])] if both else [])
                    + ['<span class="yes">yes</span>' if r["radioactive"] else "no",
                       f'{_t(r["best_account"] or "—")} ({_n(r["best_account_corrected_p_value"])})'] for r in s["results"]],
                   {2, 3, 4, 5, 6} if both else {2, 3, 4})
    if both:
        table += ("<p>Where harvest accounts were named, the provider layer and those accounts' layers were also tested together; "
                  "a result is judged on the smaller of its two p-values times two (Bonferroni over the two tests).</p>")
    h0 = s["results"][0]["null_hypothesis"]
    curve = plots.curve_svg(s["results"], s["results"][0]["alpha"]) if any(r["curve"] for r in s["results"]) else \
        "<p>The p-value curves were not recorded with these results.</p>"
    return (f'<section id="suspect"><h2>The suspect model</h2><p>{_t(s["validation_vs_training"])}</p>'
            f"<p><b>Null hypothesis.</b> {_t(h0)}</p>{table}<p>{_t(s['controls_statement'])}</p>"
            f"<h3>p-value as more of the model's predictions are scored</h3>{curve}</section>")


def _measures(m: dict[str, Any]) -> str:
    terms = _table(["terms version", "SHA-256 of the terms text", "accounts that accepted"],
                   [[_t(t["terms_version"]), f'<code class="id">{_t(t["terms_sha256"])}</code>', _n(t["accounts"])] for t in m["terms"]], {2})
    acc = m["acceptances"]
    accs = _table(["ledger record", "account", "terms version", "accepted at", "from address"],
                  [[_n(a["index"]), _t(a["account"]), _t(a["terms_version"]), _t(a["ts"]), _t(a["source_address"])] for a in acc["items"]], {0})
    inv = _table(["ledger record", "model", "compute hours", "cost", "currency", "notes", "recorded"],
                 [[_n(i["index"]), _t(i["model_id"]), _t(i["compute_hours"]), _t(i["cost"]), _t(i["currency"]), _t(i["notes"]), _t(i["ts"])]
                  for i in m["investments"]], {0, 2, 3})
    return (f'<section id="measures"><h2>Reasonable measures</h2><h3>Terms of service</h3>{terms}'
            f"<details><summary>Each account's acceptance ({_n(acc['total'])})</summary>{accs}{_more(acc, 'acceptances')}</details>"
            f"<h3>Investment in the model</h3>{inv}</section>")


def _diligence(ds: list[dict[str, Any]]) -> str:
    if not ds:
        return ""
    parts = []
    for d in ds:
        cands = _table(["candidate parent", "p-value", "corrected p-value"],
                       [[_t(c["name"]), _n(c["p_value"]), _n(c["corrected_p_value"])] for c in d["candidates"]], {1, 2})
        other = _table(["field", "value"], [[_t(k), _n(v)] for k, v in sorted(d["other"].items())]) if d["other"] else ""
        verdict = f"most likely parent: <b>{_t(d['most_likely_parent'])}</b>" if d["most_likely_parent"] else "<b>no parent</b> is significant"
        caveats = ('<div class="sure caveats"><b>Read with care.</b><ul>' + "".join(f"<li>{_t(c)}</li>" for c in d["caveats"])
                   + "</ul></div>" if d["caveats"] else "")
        parts.append(f"<h3>{_t(d['source'])}</h3>{caveats}<p>Result: {verdict}. Queries spent: {_n(d['queries_spent'])}. "
                     f"Correction: {_t(d['correction'])}.</p><p><b>Null hypothesis.</b> {_t(d['null_hypothesis'])}</p>{cands}{other}")
    return '<section id="diligence"><h2>Diligence: model provenance</h2>' + "".join(parts) + "</section>"


def _ledger(d: dict[str, Any]) -> str:
    ex = d["exhibited"]
    rows = _table(["ledger record", "type", "account", "time"],
                  [[_n(r["index"]), _t(r["type"]), _t(r.get("account")), _t(r.get("ts"))] for r in ex["items"]], {0})
    kinds = ", ".join(f"{_n(v)} {_t(k)}" for k, v in ex["by_type"].items())
    return (f'<section id="ledger"><h2>Ledger records exhibited</h2><p>{_n(ex["total"])} records ({kinds}) are exhibited. Each comes '
            f'with a proof that it is record number so-and-so of our append-only ledger, whose state at {_n(d["tree_size"])} records '
            "is fixed by the signed checkpoint below; anyone with the public key can check every proof offline "
            "(<code>stillwatch case verify</code>, or any C2SP tlog-proof verifier).</p>"
            f'<pre>{_t(d["checkpoint"])}</pre><p>Ledger key: <code class="id">{_t(d["key"])}</code></p>'
            f'<details><summary>Exhibited records ({_n(ex["total"])})</summary>{rows}{_more(ex, "records")}</details></section>')


def _methods(doc: dict[str, Any]) -> str:
    rows = [[_t(m["finding"]), _n(m["value"]), _t(m["null_hypothesis"]), _t(m["test"]), _t(m["correction"]),
             f'<code class="id">{_t(m["command"])}</code>'] for m in doc["methods"]]
    sw = ", ".join(f"{_t(k)} {_t(v)}" for k, v in doc["software"].items())
    fps = "".join(f'<li><code class="id">{_t(f)}</code></li>' for f in doc["fingerprints"]) or "<li>none</li>"
    return (f'<section id="methods"><h2>Methods</h2><p>For every number: its null hypothesis (H0), the test, the exact value, '
            f"the multiple-testing correction and the command that reproduces it. Key files are named, never shown.</p>"
            f"{_table(['finding', 'value', 'H0', 'test', 'correction', 'command'], rows, {1})}"
            f"<h3>Software and watermark specification fingerprints</h3><p>{sw}; report schema {_t(doc['schema'])} "
            f"{_t(doc['schema_version'])}.</p><ul>{fps}</ul></section>")


def _custody(doc: dict[str, Any]) -> str:
    rows = [[_n(e["seq"]), _t(e["ts"]), _t(e["actor"]), _t(e["action"]), _t(e["subject"]), f'<code class="id">{_t(e["sha256"])}</code>']
            for e in doc["custody"]]
    return (f'<section id="custody"><h2>Chain of custody</h2><p>Every addition to this case, signed by the case key '
            f'<code class="id">{_t(doc["case"]["case_key"])}</code> and chained by hash.</p>'
            f"{_table(['#', 'when', 'who', 'what', 'file', 'SHA-256'], rows, {0})}</section>")


def render_html(doc: dict[str, Any]) -> str:
    """The whole page for the twin ``doc``."""
    c = doc["case"]
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in (("summary", "Summary"), ("campaign", "Campaign"), ("watermark", "Watermark"),
                                                           ("suspect", "Suspect model"), ("measures", "Reasonable measures"),
                                                           ("ledger", "Ledger"), ("methods", "Methods"), ("custody", "Custody")))
    body = "".join([_summary(doc), _campaign(doc["campaign"]), _watermark(doc["watermark"]), _suspect(doc["suspect_model"]),
                    _measures(doc["measures"]), _diligence(doc["diligence"]), _ledger(doc["ledger"]), _methods(doc), _custody(doc)])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_t(c['title'])}</title><style>{CSS}</style></head><body>"
            f"<header><div><h1>{_t(c['title'])}</h1><p>Case {_t(c['case_id'])} · built {_t(c['built_at'])} · "
            f"ledger {_t(c['ledger_origin'])}</p></div></header><nav>{nav}</nav><main>{body}</main></body></html>\n")
