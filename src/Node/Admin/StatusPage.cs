using System.Net;

namespace AkkaL4.Node.Admin;

/// <summary>
/// The status page at <c>/</c>: one HTML document, its script inline (no build step, nothing fetched from
/// elsewhere). The server writes the page with the status as of the request inside it; the script renders that
/// at once and then polls <c>/v1/status</c> every second, and <c>/v1/config</c> when the revision changes.
/// </summary>
internal static class StatusPage
{
    /// <param name="statusJson">The <c>/v1/status</c> document as of now.</param>
    /// <param name="loggedIn">The API has a token (and the browser gave it): the page offers to log out.</param>
    public static string Render(string node, string statusJson, bool loggedIn) =>
        Html.Replace("{{node}}", WebUtility.HtmlEncode(node), StringComparison.Ordinal)
            .Replace("{{logout}}", loggedIn ? Logout : "", StringComparison.Ordinal)
            // Inside <script type="application/json">: only "</" could end it early.
            .Replace("{{status}}", statusJson.Replace("</", "<\\/", StringComparison.Ordinal), StringComparison.Ordinal);

    private const string Logout = """<form id="logout" method="post" action="/logout"><button>log out</button></form>""";

    /// <summary>Asked for instead of the page when the API wants a token and the browser has not given it.</summary>
    /// <param name="message">Why the form is shown again (a wrong token, too many attempts, an expired login); "" at first.</param>
    public static string Login(string message) => LoginHtml.Replace("{{message}}", WebUtility.HtmlEncode(message), StringComparison.Ordinal);

    private const string LoginHtml = """
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AkkaL4 · token</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 2rem; } .bad { color: #cf222e; }
</style>
</head>
<body>
<form method="post" action="/login">
  <p>This admin API wants its bearer token (--admin-token).</p>
  <p class="bad" id="message">{{message}}</p>
  <label>token <input type="password" name="token" autofocus></label> <button>open the status page</button>
</form>
</body></html>
""";

    /// <summary>
    /// The Content-Security-Policy of every answer: nothing from elsewhere, no inline code but the pages' own script and
    /// style (by their SHA-256, so an injected one would not run), fetches and forms to this API only, never in a frame.
    /// </summary>
    public static readonly string ContentSecurityPolicy =
        $"default-src 'none'; script-src {Hashes(Html, "script")}; style-src {Hashes(Html + LoginHtml, "style")}; "
        + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>'sha256-…' of each inline &lt;TAG&gt; element's text (the JSON data block has attributes, and is not run).</summary>
    private static string Hashes(string html, string tag) => string.Join(' ',
        System.Text.RegularExpressions.Regex.Matches(html, $"<{tag}>(.*?)</{tag}>", System.Text.RegularExpressions.RegexOptions.Singleline)
            .Select(m => $"'sha256-{Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(m.Groups[1].Value)))}'"));

    private const string Html = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AkkaL4 · {{node}}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1f24; background: #fafbfc; }
  h1 { font-size: 1.4rem; margin: 0 0 .2rem; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
  table { border-collapse: collapse; background: #fff; min-width: 40%; }
  th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; vertical-align: top; }
  th { background: #f0f3f6; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .ok { color: #1a7f37; } .bad { color: #cf222e; } .muted { color: #656d76; }
  pre { background: #fff; border: 1px solid #d0d7de; padding: .6rem; max-height: 24rem; overflow: auto; }
  form input { font: inherit; width: 12rem; } #stale { display: none; color: #cf222e; } #logout { float: right; }
</style>
</head>
<body>
{{logout}}
<h1>AkkaL4 node <span id="node">{{node}}</span></h1>
<div id="summary" class="muted"></div>
<div id="stale">status not updated: <span id="stale-reason"></span></div>
<div id="last-known-good"></div>

<h2>Members</h2>
<table id="members"><thead><tr><th>address</th><th>status</th><th>roles</th><th>revision in force</th><th>config writer</th></tr></thead><tbody></tbody></table>

<h2>Listeners of this node</h2>
<table id="listeners"><thead><tr><th>address</th><th>bound</th><th>active</th><th>total</th><th>refused</th><th>bytes in</th><th>bytes out</th></tr></thead><tbody></tbody></table>

<h2>Upstream clusters</h2>
<div id="upstreams"></div>

<h2>Configuration revisions</h2>
<table id="history"><thead><tr><th>revision</th><th>in force since</th><th>resources</th><th>changes</th></tr></thead><tbody></tbody></table>

<h2>Explain a connection</h2>
<form id="explain">
  <label>source <input name="source" placeholder="10.0.0.5" required></label>
  <label>destination <input name="destination" placeholder="10.0.0.10:9000" required></label>
  <label>SNI <input name="sni" placeholder="(TLS only)"></label>
  <button>explain</button>
</form>
<pre id="explanation" hidden></pre>

<h2>Current configuration <span id="config-revision" class="muted"></span></h2>
<pre id="config"></pre>

<script type="application/json" id="initial">{{status}}</script>
<script>
"use strict";
const $ = id => document.getElementById(id);
// Every value goes in as text, never as markup.
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}
const num = v => el("td", { className: "num" }, v == null ? "-" : Number(v).toLocaleString("en"));
function fill(table, rows) { table.tBodies[0].replaceChildren(...rows); }

function render(s) {
  const w = s.configWriterState;
  $("summary").textContent = `${s.membership.summary}; config writer on ${s.configWriter ?? "(none)"}`
    + (w && (w.state !== "serving" || w.reason) ? ` (${w.state}: ${w.reason})` : "");
  fill($("members"), s.members.map(m => {
    const tr = el("tr", {}, el("td", {}, m.address), el("td", { className: m.status === "Up" ? "ok" : "bad" }, m.status),
      el("td", {}, m.roles.join(", ")), revisionCell(m), el("td", {}, m.address === s.configWriter ? "yes" : ""));
    tr.dataset.address = m.address;
    return tr;
  }));
  fill($("listeners"), s.listeners.map(l => {
    const tr = el("tr", {}, el("td", {}, l.address), el("td", { className: l.bound ? "ok" : "bad" }, l.bound ? "yes" : `no${l.error ? ": " + l.error : ""}`),
      num(l.active), num(l.total), num(l.refused), num(l.bytesIn), num(l.bytesOut));
    tr.dataset.address = l.address;
    return tr;
  }));
  renderCopy(s.lastKnownGood);
  renderUpstreams(s);
  fill($("history"), s.history.map(h => {
    const changes = h.changes.length ? h.changes.map(c => `${c.action} ${c.kind}/${c.namespace}/${c.name}`).join("\n")
      + (h.changesOmitted ? `\n(${h.changesOmitted} more changes not shown)` : "") : "(first seen)";
    const tr = el("tr", {}, num(h.revision), el("td", {}, new Date(h.seen).toLocaleString()), num(h.resources), el("td", {}, el("pre", {}, changes)));
    tr.dataset.revision = h.revision;
    return tr;
  }));
  if (s.revision !== shownConfig) loadConfig(s.revision);
}

// A revision a member could not apply is said beside the one it routes by.
function revisionCell(m) {
  if (m.revisionFailed == null) return num(m.revision);
  return el("td", { className: "bad" }, `${m.revision ?? "-"} (revision ${m.revisionFailed} not applied: ${m.revisionError ?? "no reason given"})`);
}

// This node's copy on disk, served at its next start: a copy not written is said plainly, not left to the logs.
function renderCopy(c) {
  const e = $("last-known-good");
  if (!c) { e.className = "muted"; e.textContent = "last-known-good copy: none kept (no data directory)"; return; }
  const held = c.revision == null ? "no revision yet" : `revision ${c.revision}`;
  if (c.failed != null) {
    e.className = "bad";
    e.textContent = `last-known-good copy NOT written: revision ${c.failed} failed (${c.error ?? "no reason given"}); `
      + `the copy on disk holds ${held}, which this node would serve if it restarted now; the write is retried`;
  } else {
    e.className = "muted";
    e.textContent = `last-known-good copy on disk: ${held}`;
  }
}

// Health (status.upstreams: status, ejections, active connections, last error) with the traffic (status.traffic: connections and bytes), by cluster name and endpoint.
function renderUpstreams(s) {
  const traffic = new Map((s.traffic ?? []).map(t => [t.name, t]));
  $("upstreams").replaceChildren(...(s.upstreams ?? []).map(u => {
    const t = traffic.get(u.cluster) ?? { endpoints: [] };
    const byAddress = new Map(t.endpoints.map(e => [e.address, e]));
    const head = el("tr", {}, ...["endpoint", "health", "active", "total", "connect failures", "ejected (times)", "bytes in", "bytes out", "last error"].map(h => el("th", {}, h)));
    const rows = u.endpoints.map(e => {
      const et = byAddress.get(e.endpoint) ?? {};
      const health = e.status + (e.ejectedUntil ? ` until ${new Date(e.ejectedUntil).toLocaleTimeString()}` : "") + (e.check ? ` (check ${e.check})` : "");
      const tr = el("tr", {}, el("td", {}, e.endpoint), el("td", { className: e.status === "healthy" ? "ok" : "bad" }, health),
        num(e.activeConnections), num(et.total), num(et.connectFailures), num(e.timesEjected), num(et.bytesIn), num(et.bytesOut),
        el("td", { className: e.lastError ? "bad" : "" }, e.lastError ? `${e.lastError} (${new Date(e.lastErrorAt).toLocaleTimeString()})` : ""));
      tr.dataset.endpoint = e.endpoint;
      return tr;
    });
    const table = el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows));
    table.dataset.cluster = u.cluster;
    const title = `${u.cluster} — ${t.active ?? 0} active, ${t.total ?? 0} total, ${t.connectFailures ?? 0} connect failures, ${t.bytesIn ?? 0} B in, ${t.bytesOut ?? 0} B out`
      + (u.panic ? "; in panic (every endpoint gets traffic)" : "") + (t.lastError ? `; last error: ${t.lastError}` : "");
    return el("div", {}, el("h3", {}, title), table);
  }));
  if (s.trafficOmitted) $("upstreams").append(el("p", { className: "muted" }, `traffic of ${s.trafficOmitted} more clusters not shown`));
  if (s.upstreamsOmitted) $("upstreams").append(el("p", { className: "muted" }, `health of ${s.upstreamsOmitted} more clusters not shown`));
}

let shownConfig = null;
async function loadConfig(revision) {
  shownConfig = revision;
  const r = await fetch("/v1/config", { headers: { Accept: "application/yaml" } });
  if (!r.ok) { shownConfig = null; return; }
  $("config").textContent = await r.text();
  $("config-revision").textContent = `(revision ${r.headers.get("X-AkkaL4-Revision")})`;
}

async function refresh() {
  try {
    const r = await fetch("/v1/status", { cache: "no-store" });
    if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
    render(await r.json());
    $("stale").style.display = "none";
  } catch (e) {
    $("stale-reason").textContent = e.message;
    $("stale").style.display = "block";
  }
}

$("explain").addEventListener("submit", async ev => {
  ev.preventDefault();
  const query = new URLSearchParams([...new FormData(ev.target)].filter(([, v]) => v));
  const r = await fetch("/v1/explain?" + query);
  const out = $("explanation");
  out.hidden = false;
  out.textContent = JSON.stringify(await r.json(), null, 2);
});

render(JSON.parse($("initial").textContent));
setInterval(refresh, 1000);
</script>
</body>
</html>
""";
}
