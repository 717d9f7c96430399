// smallfirst dashboard: a read-only view of /admin/api/summary and /admin/api/health.
// No dependencies; charts are plain SVG. All data is inserted with textContent (never as HTML).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#2e7dd7", "#f0a202", "#8e44ad", "#16a085", "#c0392b", "#7f8c8d"];
  const REFRESH_MS = 10000;
  let timer = null;
  let busy = false;

  const fmtInt = (n) => (n == null ? "–" : Math.round(n).toLocaleString("en-US"));
  const fmtPct = (x) => (x == null ? "–" : (100 * x).toFixed(1) + " %");
  const fmtMs = (x) => (x == null ? "–" : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toString());
  function fmtUsd(x) {
    if (x == null) return "–";
    const a = Math.abs(x);
    return (x < 0 ? "-$" : "$") + (a === 0 ? "0.00" : a < 0.01 ? a.toFixed(6) : a < 100 ? a.toFixed(2) :
      Math.round(a).toLocaleString("en-US"));
  }
  function setText(id, text, value) {
    const el = $(id);
    el.textContent = text;
    if (value !== undefined) el.dataset.value = value == null ? "" : String(value);
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const color = (i) => COLORS[i % COLORS.length];
  const clock = (ts, span) => {
    const d = new Date(ts * 1000);
    const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    return span > 2 * 86400 ? d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + hm : hm;
  };

  // ---- API -----------------------------------------------------------------------------------------

  async function api(path) {
    const headers = {};
    const key = sessionStorage.getItem("smallfirst-admin-key");
    if (key) headers.Authorization = "Bearer " + key;
    const r = await fetch(path, { headers, cache: "no-store" });
    if (r.status === 401) {
      $("keyform").hidden = false;
      throw new Error("admin key required");
    }
    const body = await r.json();
    if (!r.ok) throw new Error((body.error && body.error.message) || r.statusText);
    return body;
  }

  let again = false;  // a range change or refresh while a load runs: load once more after it
  async function load() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    const t0 = performance.now();
    const range = $("range").value;
    try {
      const [summary, health] = await Promise.all([
        api("/admin/api/summary?since=" + encodeURIComponent(range)),
        api("/admin/api/health"),
      ]);
      render(summary, health);
      document.body.dataset.range = range;
      $("keyform").hidden = true;
      const ms = Math.round(performance.now() - t0);
      setText("status", "updated " + new Date().toLocaleTimeString() + " · " + ms + " ms");
      document.body.dataset.loaded = String(Date.now());
    } catch (e) {
      setText("status", "error: " + e.message);
    } finally {
      busy = false;
    }
    if (again) {
      again = false;
      load();
    } else if (fitRange()) {
      load();
    }
  }

  // A new gateway's traffic is a sliver at the right edge of 24 hours: on the first load without a
  // ?range=, the smallest range that holds all of the data in view is chosen instead (once).
  let fitted = false;
  let lastSummary = null;
  function fitRange() {
    if (fitted || params.get("range") || !lastSummary) return false;
    fitted = true;
    const active = lastSummary.series.filter((p) => p.errors > 0 || Object.values(p.served).some((n) => n > 0));
    if (!active.length) return false;
    const span = lastSummary.range.until_ts - Math.min(...active.map((p) => p.t));
    const options = [["15m", 900], ["1h", 3600], ["6h", 21600]];
    const pick = options.find(([, s]) => span <= s * 0.9);
    if (!pick || pick[0] === $("range").value) return false;
    $("range").value = pick[0];
    return true;
  }

  // ---- rendering -----------------------------------------------------------------------------------

  function render(s, health) {
    lastSummary = s;
    const t = s.totals;
    const local = s.tiers.filter((x) => x.local);
    const localShare = local.reduce((a, x) => a + x.share, 0);
    const localTarget = local.reduce((a, x) => a + x.target, 0);
    setText("kpi-requests", fmtInt(t.requests), t.requests);
    setText("kpi-served", fmtInt(t.served), t.served);
    setText("kpi-errors", fmtInt(t.errors), t.errors);
    const byTier = s.tiers.filter((x) => x.errors > 0).map((x) => x.name + " " + fmtInt(x.errors));
    const unrouted = t.errors - s.tiers.reduce((a, x) => a + x.errors, 0);
    if (unrouted > 0) byTier.push("before routing " + fmtInt(unrouted));
    const byStatus = s.status.filter((x) => x.status >= 400).map((x) => "HTTP " + x.status + " × " + fmtInt(x.count));
    const byWhere = (s.errors || []).slice(0, 4).map((e) =>
      (e.endpoint ? e.endpoint : "before routing") + " " + e.code + " × " + fmtInt(e.count));
    setText("kpi-errors-by", byTier.length ? "errors: " + byTier.join(" · ") + " (" + byStatus.join(", ") + ")" +
      (byWhere.length ? "; " + byWhere.join(" · ") : "") : "", t.errors);
    setText("kpi-local-share", t.served ? fmtPct(localShare) : "–", localShare);
    setText("kpi-local-target", fmtPct(localTarget), localTarget);
    setText("kpi-cost", fmtUsd(s.cost.actual_usd), s.cost.actual_usd);
    setText("kpi-local-cost", fmtUsd(s.cost.local_usd || 0), s.cost.local_usd || 0);
    setText("kpi-baseline", fmtUsd(s.cost.baseline_usd), s.cost.baseline_usd);
    setText("kpi-baseline-model", s.cost.baseline ? s.cost.baseline.model : "no price");
    setText("kpi-savings", fmtUsd(s.cost.savings_usd), s.cost.savings_usd);
    setText("kpi-savings-pct", s.cost.savings_pct == null ? "–" : s.cost.savings_pct.toFixed(1) + " %",
      s.cost.savings_pct);
    const b = s.cost.baseline;
    setText("savings-formula", b
      ? "all-frontier estimate − API spend − local cost (" + localBasis(s.cost.local_basis || []) + "). "
        + "The estimate prices every answered request's logged prompt and "
        + "completion tokens at " + b.model + " ($" + b.input_per_mtok + " / $" + b.output_per_mtok
        + " per million tokens in / out, " + b.source + "); a frontier model would use other token counts, "
        + "so this is not a measured saving."
      : "no baseline price is known, so no saving is estimated");
    setText("kpi-escalated", fmtInt(t.escalated), t.escalated);
    setText("kpi-escalation-rate", fmtPct(t.escalation_rate), t.escalation_rate);
    setText("kpi-left-host", fmtInt(s.residency.left_host), s.residency.left_host);
    setText("kpi-sensitive", fmtInt(s.residency.sensitive_requests), s.residency.sensitive_requests);
    setText("kpi-left-redacted", fmtInt(s.residency.left_host_redacted), s.residency.left_host_redacted);
    setText("kpi-left-unredacted", fmtInt(s.residency.left_host_unredacted), s.residency.left_host_unredacted);
    $("kpi-left-host").className = "v " + (s.residency.left_host_unredacted || s.residency.unverified ? "bad-text"
      : s.residency.left_host_redacted ? "warn-text" : "ok-text");
    setText("pct-note", s.notes[0]);
    setText("range-text", s.range.since + " → " + s.range.until + " · bucket " + s.range.bucket_s + " s");
    mixChart(s);
    costChart(s);
    tierTable(s);
    bars("escalations", s.escalations.reasons.map((r) => [r.step + " · " + r.reason, r.count]));
    bars("tasks", s.task_types.map((x) => [x.task_type, x.count]));
    backends(health);
    cacheCard(health.cache);
    residency(s);
  }

  function cacheCard(c) {
    $("cache-card").hidden = !c;
    if (!c) return;
    const rows = [["hit rate", c.hit_rate == null ? "–" : fmtPct(c.hit_rate)],
      ["hits · misses · bypassed", fmtInt(c.hits) + " · " + fmtInt(c.misses) + " · " + fmtInt(c.bypasses)],
      ["semantic hits", c.semantic ? fmtInt(c.semantic_hits) + " (" + fmtInt(c.rejected) + " failed the contract)"
        : "off"],
      ["saved", fmtUsd(c.saved_usd)], ["entries", c.entries == null ? "–" : fmtInt(c.entries)],
      ["size", c.bytes == null ? "–" : fmtInt(c.bytes) + " bytes"]];
    const body = $("cache").querySelector("tbody");
    body.replaceChildren(...rows.map(([k, v]) => {
      const tr = el("tr", { "data-key": k });
      tr.append(el("th", {}, k), el("td", {}, v));
      return tr;
    }));
  }

  function frame(box, s) {
    const W = Math.max(300, Math.round(box.clientWidth || 900)), H = 220, L = 70, R = 10, T = 8, B = 22;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
    const x0 = s.range.since_ts, x1 = s.range.until_ts;
    const x = (ts) => L + ((ts - x0) / (x1 - x0)) * (W - L - R);
    root.appendChild(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
    for (let i = 0; i <= 4; i++) {
      const ts = x0 + ((x1 - x0) * i) / 4;
      root.appendChild(svg("text", { x: x(ts), y: H - 6, "text-anchor": i === 0 ? "start" : i === 4 ? "end" :
        "middle" }, clock(ts, x1 - x0)));
    }
    box.replaceChildren(root);
    return { root, W, H, L, R, T, B, x };
  }

  function mixChart(s) {
    const box = $("mix-chart");
    const f = frame(box, s);
    const y = (v) => f.T + (1 - v) * (f.H - f.T - f.B);
    for (const v of [0, 0.5, 1]) {
      f.root.appendChild(svg("text", { x: f.L - 6, y: y(v) + 4, "text-anchor": "end" }, (v * 100) + "%"));
    }
    const names = s.tiers.map((x) => x.name);
    const bw = Math.max(1, f.x(s.range.since_ts + s.range.bucket_s) - f.x(s.range.since_ts) - 1);
    for (const p of s.series) {
      const total = names.reduce((a, n) => a + (p.served[n] || 0), 0);
      if (!total) continue;
      let acc = 0;
      names.forEach((n, i) => {
        const v = (p.served[n] || 0) / total;
        if (!v) return;
        const r = svg("rect", { x: Math.max(f.L, f.x(p.t)), y: y(acc + v), width: bw, height: y(acc) - y(acc + v),
          fill: color(i), opacity: 0.85 });
        r.appendChild(svg("title", {}, `${clock(p.t, 0)} ${n}: ${p.served[n]} of ${total} (${fmtPct(v)})`));
        f.root.appendChild(r);
        acc += v;
      });
    }
    let cum = 0;
    names.slice(0, -1).forEach((n) => {
      cum += s.target_mix[n] || 0;
      f.root.appendChild(svg("line", { x1: f.L, x2: f.W - f.R, y1: y(cum), y2: y(cum), class: "target" }));
    });
    const legend = $("mix-legend");
    legend.replaceChildren(...s.tiers.map((x, i) => {
      const span = el("span", { "data-tier": x.name });
      const sw = el("i");
      sw.style.background = color(i);
      span.append(sw, `${x.name}: ${fmtPct(x.share)} (target ${fmtPct(x.target)})`);
      return span;
    }));
  }

  function costChart(s) {
    const box = $("cost-chart");
    const f = frame(box, s);
    let a = 0, b = 0;
    const pts = [[s.range.since_ts, 0, 0]];
    for (const p of s.series) {  // a step per bucket: flat until the bucket, its cost added by its end
      pts.push([Math.max(p.t, s.range.since_ts), a, b]);
      a += p.cost_usd + (p.local_cost_usd || 0);  // API spend + own hardware
      b += p.baseline_cost_usd || 0;
      pts.push([Math.min(p.t + s.range.bucket_s, s.range.until_ts), a, b]);
    }
    pts.push([s.range.until_ts, a, b]);
    const top = Math.max(1e-9, ...pts.map((p) => Math.max(p[1], p[2])));
    const y = (v) => f.T + (1 - v / top) * (f.H - f.T - f.B);
    if (a > 0 || b > 0) f.root.appendChild(svg("text", { x: f.L - 6, y: y(top) + 10, "text-anchor": "end" },
      fmtUsd(top)));
    f.root.appendChild(svg("text", { x: f.L - 6, y: y(0), "text-anchor": "end" }, "$0"));
    const line = (k, stroke, dash, label) => {
      const d = pts.map((p, i) => (i ? "L" : "M") + f.x(p[0]).toFixed(1) + "," + y(p[k]).toFixed(1)).join(" ");
      const path = svg("path", { d, fill: "none", stroke, "stroke-width": 2, "stroke-dasharray": dash });
      path.appendChild(svg("title", {}, label));
      f.root.appendChild(path);
    };
    line(2, "#8a93a6", "6 4", "all-frontier baseline");
    line(1, COLORS[0], "", "actual cost (API spend + local hardware)");
    f.root.appendChild(svg("text", { x: f.W - f.R, y: f.T + 12, "text-anchor": "end" },
      "— actual   - - all-frontier" + (s.cost.baseline ? " (" + s.cost.baseline.model + ")" : "")));
  }

  function localBasis(basis) {  // how answers on own hardware are priced
    if (!basis.length) return "no endpoint is priced as own hardware";
    return basis.map((b) => b.tier + ": $" + b.hardware_usd + " over " + b.lifetime_years + " y at "
      + Math.round(100 * b.utilisation) + " % use + " + b.watts + " W at $" + b.usd_per_kwh + "/kWh, per "
      + b.seconds).join("; ");
  }

  function tierTable(s) {
    const rows = s.tiers.map((x, i) => {
      const tr = el("tr", { "data-tier": x.name });
      const name = el("td");
      const sw = el("span", { className: "dot" });
      sw.style.background = color(i);
      name.append(sw, " " + x.name);
      if (x.local) name.append(el("span", { className: "tag", title: "all endpoints on this host" }, "on host"));
      const cell = (cls, text, v) => el("td", { className: cls, "data-value": v == null ? "" : String(v) }, text);
      tr.append(name, cell("requests", fmtInt(x.requests), x.requests), cell("share", fmtPct(x.share), x.share),
        cell("target", fmtPct(x.target), x.target), cell("errors", fmtInt(x.errors), x.errors),
        cell("cost", fmtUsd(x.cost_usd), x.cost_usd),
        cell("local-cost", fmtUsd(x.local_cost_usd || 0), x.local_cost_usd || 0),
        cell("p50", fmtMs(x.latency_p50_ms), x.latency_p50_ms),
        cell("p95", fmtMs(x.latency_p95_ms), x.latency_p95_ms), cell("ttft", fmtMs(x.ttft_p50_ms), x.ttft_p50_ms));
      return tr;
    });
    $("tiers").tBodies[0].replaceChildren(...rows);
  }

  function bars(id, items) {
    const ul = $(id);
    if (!items.length) {
      ul.replaceChildren(el("li", { className: "empty" }, "none in this range"));
      return;
    }
    const max = Math.max(...items.map((x) => x[1]));
    ul.replaceChildren(...items.map(([label, n]) => {
      const li = el("li", { "data-key": label, "data-value": String(n) });
      const bar = el("div", { className: "bar" });
      const fill = el("div", { className: "fill" });
      fill.style.width = (100 * n / max).toFixed(1) + "%";
      bar.append(fill, el("div", { className: "label", title: label }, label));
      li.append(bar, el("div", { className: "n" }, fmtInt(n)));
      return li;
    }));
  }

  function backends(h) {
    const rows = h.backends.map((b) => {
      const tr = el("tr", { "data-endpoint": b.endpoint, "data-ok": String(!!b.ok) });
      const dot = el("td");
      dot.append(el("span", { className: "dot " + (b.ok ? "ok" : "bad"), title: b.ok ? "ok" : "down" }));
      const detail = Object.entries(b).filter(([k]) => !["ok", "tier", "endpoint", "model", "location",
        "local", "runtime"].includes(k)).map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v))
        .join(" ");
      tr.append(dot, el("td", {}, b.tier), el("td", {}, b.endpoint), el("td", {}, b.location),
        el("td", { className: "runtime" }, runtimeText(b.runtime)), el("td", {}, detail));
      return tr;
    });
    $("backends").tBodies[0].replaceChildren(...rows);
  }

  // What the local runtime reported at its last poll (smallfirst.runtime): loaded or cold, busy slots, queue.
  function runtimeText(r) {
    if (!r) return "–";
    if (!r.reachable) return "not answering";
    const parts = [r.loading ? "loading" : r.loaded === true ? "loaded" : r.loaded === false ? "cold" : "state unknown"];
    if (r.busy != null) parts.push(r.slots != null ? r.busy + "/" + r.slots + " busy" : r.busy + " running");
    if (r.queued) parts.push(r.queued + " queued");
    if (r.expires_at) parts.push("until " + r.expires_at.replace("T", " ").slice(0, 16));
    return parts.join(" · ");
  }

  function residency(s) {
    const body = $("residency").tBodies[0];
    if (!s.residency.by_class.length) {
      const tr = el("tr");
      tr.append(el("td", { className: "empty", colSpan: 3 }, "no sensitive requests in this range"));
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...s.residency.by_class.map((c) => {
      const tr = el("tr", { "data-class": c.class });
      const tiers = Object.entries(c.tiers).map(([t, n]) => t + " " + n).join(", ");
      tr.append(el("td", {}, c.class), el("td", { "data-value": String(c.count) }, fmtInt(c.count)),
        el("td", {}, tiers));
      return tr;
    }));
  }

  // Residency evidence scans the log (not the rollups), so it loads on demand, not on every refresh.
  async function evidence() {
    const btn = $("evidence-load");
    btn.disabled = true;
    try {
      const e = await api("/admin/api/residency?since=" + encodeURIComponent($("range").value));
      const st = $("evidence-statement");
      st.hidden = false;
      st.className = e.left_host_unredacted || e.unverified ? "bad-text" : e.left_host_redacted ? "warn-text"
        : "ok-text";
      setText("evidence-statement", e.statement, e.left_host);
      // what the statement rests on: the detector's coverage and measured recall; unflagged egress is counted only
      const basis = $("evidence-basis");
      basis.hidden = !e.basis;
      if (e.basis) setText("evidence-basis", "Basis: " + e.basis.statement);
      $("evidence-unflagged").hidden = false;
      setText("evidence-unflagged", "Unflagged: " + e.unflagged.statement, e.unflagged.left_host);
      const rows = e.by_entity.map((x) => {
        const tr = el("tr", { "data-entity": x.entity });
        tr.append(el("td", {}, x.entity), el("td", {}, x.class), el("td", {}, fmtInt(x.requests)),
          el("td", { "data-value": String(x.occurrences) }, fmtInt(x.occurrences)));
        return tr;
      });
      $("evidence").hidden = rows.length === 0;
      $("evidence").tBodies[0].replaceChildren(...rows);
    } catch (err) {
      setText("status", "error: " + err.message);
    } finally {
      btn.disabled = false;
    }
  }

  // ---- controls ------------------------------------------------------------------------------------

  function schedule() {
    clearInterval(timer);
    timer = $("auto").checked ? setInterval(load, REFRESH_MS) : null;
  }
  const params = new URLSearchParams(location.search);
  if (params.get("range")) $("range").value = params.get("range");
  $("range").addEventListener("change", load);
  $("refresh").addEventListener("click", load);
  $("evidence-load").addEventListener("click", evidence);
  $("auto").addEventListener("change", schedule);
  $("keyform").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("smallfirst-admin-key", $("key").value);
    $("key").value = "";
    load();
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden && $("auto").checked) load(); });
  schedule();
  load();
})();
