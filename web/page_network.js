// page_network.js — the network at a glance: this node's view of the chain,
// the consensus nodes and the leader, the open governance proposals, the
// mempool, a live chart of committed tx/s over the last five minutes (fed
// by GET /v1/events) and the latest blocks. Also the search box: a height
// or a txid.

import { get } from "./api.js";
import { clear, dl, el, errorNote, idSpan, link, note, refill, table, time } from "./ui.js";

const WINDOW_S = 300; // the chart's span
const STATUS_EVERY_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// Committed txs per second, bucketed by block time, newest WINDOW_S seconds.
class Rate {
  constructor() {
    this.buckets = new Map(); // unix second -> txs
  }
  add(timeMs, txs) {
    const s = Math.floor(timeMs / 1000);
    this.buckets.set(s, (this.buckets.get(s) || 0) + txs);
  }
  series(nowS) {
    for (const k of this.buckets.keys()) if (k <= nowS - WINDOW_S) this.buckets.delete(k);
    const out = [];
    for (let s = nowS - WINDOW_S + 1; s <= nowS; s++) out.push(this.buckets.get(s) || 0);
    return out;
  }
}

function drawChart(box, series) {
  const w = 600, h = 160, pad = 28;
  const max = Math.max(1, ...series);
  const total = series.reduce((a, b) => a + b, 0);
  const last10 = series.slice(-10).reduce((a, b) => a + b, 0) / 10;
  const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, class: "chart", role: "img",
    "aria-label": `committed transactions per second over the last ${WINDOW_S / 60} minutes: ${total} in all, ${last10.toFixed(1)} per second over the last 10 seconds, peak ${max}` });
  root.append(svg("line", { x1: pad, y1: h - pad, x2: w, y2: h - pad, class: "axis" }));
  root.append(svg("line", { x1: pad, y1: 4, x2: pad, y2: h - pad, class: "axis" }));
  const yLabel = svg("text", { x: 2, y: 12, class: "tick" });
  yLabel.textContent = String(max);
  root.append(yLabel);
  const xLabel = svg("text", { x: pad, y: h - 8, class: "tick" });
  xLabel.textContent = `-${WINDOW_S / 60} min`;
  root.append(xLabel);
  const nowLabel = svg("text", { x: w - 30, y: h - 8, class: "tick" });
  nowLabel.textContent = "now";
  root.append(nowLabel);
  const step = (w - pad) / series.length;
  const pts = series.map((v, i) => `${(pad + i * step).toFixed(1)},${(h - pad - (v / max) * (h - pad - 8)).toFixed(1)}`);
  root.append(svg("polyline", { points: pts.join(" "), class: "rate" }));
  clear(box, root, el("p", { class: "muted" }, `${last10.toFixed(1)} tx/s over the last 10 s · peak ${max} tx/s · ${total} txs in ${WINDOW_S / 60} min`));
}

function blocksTable(blocks) {
  return table(
    ["Height", "Time", "Txs", "Hash", "Proposer"],
    blocks.map((b) => [link(`#/block/${b.height}`, String(b.height)), time(b.time_ms), String(b.tx_count), idSpan(b.hash), idSpan(b.proposer, 8)]),
  );
}

// The ruleset blocks execute under, the next one when governance moved
// the network to it, and a warning when this node's build does not know it.
function rulesetText(r) {
  const parts = [`${r.active}`];
  if (r.next) parts.push(`; ruleset ${r.next} from block ${r.from}`);
  const lacking = Math.max(r.active, r.next || 0);
  if (lacking > r.supported) {
    return el("span", {}, ...parts, " ", el("strong", {}, `(this node's build knows rulesets up to ${r.supported}: it stops there)`));
  }
  return parts.join("");
}

// What a proposal changes: a node to add or remove, or the ruleset blocks
// execute under from a height on.
function proposalChange(x) {
  if (x.action === "add") return `add ${x.node.name} (${x.node.org}, ${x.node.api})`;
  if (x.action === "upgrade") return `ruleset ${x.ruleset} from block ${x.from}`;
  return el("span", {}, "remove ", x.name ? `${x.name} (` : "", idSpan(x.id, 12), x.name ? ")" : "");
}

// The open proposals: what, who approved so far out of how many needed,
// and until when approvals are taken.
function proposalsTable(p) {
  return table(
    ["Proposal", "Change", "Approvals", "Proposed", "Approvals until"],
    p.proposals.map((x) => [
      link(`#/tx/${x.txid}`, x.txid.slice(0, 12) + "…"),
      proposalChange(x),
      `${x.approvals.length} of ${p.needed} (${x.approvals.join(", ")})`,
      link(`#/block/${x.height}`, `block ${x.height}`),
      x.expires_ms ? time(x.expires_ms) : "no limit",
    ]),
    `${p.proposals.length} open; a change needs ${p.needed} of ${p.organisations} organisations`,
  );
}

function searchForm() {
  const input = el("input", { id: "search", name: "q", type: "search", placeholder: "height or 64-hex txid", autocomplete: "off", spellcheck: "false" });
  const out = el("div", { "aria-live": "polite" });
  const form = el(
    "form",
    { class: "search", role: "search", onsubmit: (ev) => {
      ev.preventDefault();
      const q = input.value.trim();
      if (/^\d+$/.test(q)) location.hash = `#/block/${q}`;
      else if (/^[0-9a-fA-F]{64}$/.test(q)) location.hash = `#/tx/${q.toLowerCase()}`;
      else clear(out, note("error", "Type a block height (digits) or a txid (64 hex digits)."));
    } },
    el("label", { for: "search" }, "Find a block or tx"),
    input,
    el("button", { type: "submit" }, "Go"),
  );
  return [form, out];
}

export async function render(main) {
  const statusBox = el("section", { "aria-labelledby": "h-status" });
  const nodesBox = el("section", { "aria-labelledby": "h-nodes" });
  const proposalsBox = el("section", { "aria-labelledby": "h-proposals" });
  const chartBox = el("div", { class: "chart-box" });
  const streamBox = el("div"); // beside the chart, which is redrawn every second
  const blocksBox = el("section", { "aria-labelledby": "h-blocks" });
  main.append(
    el("h1", {}, "Network"),
    ...searchForm(),
    el("div", { class: "grid" },
      el("div", {}, el("h2", { id: "h-status" }, "This node"), statusBox),
      el("div", {}, el("h2", { id: "h-nodes" }, "Consensus nodes"), nodesBox)),
    el("h2", { id: "h-proposals" }, "Open governance proposals"),
    proposalsBox,
    el("section", { "aria-labelledby": "h-rate" }, el("h2", { id: "h-rate" }, "Committed tx/s (live)"), chartBox, streamBox),
    el("h2", { id: "h-blocks" }, "Latest blocks"),
    blocksBox,
  );

  const rate = new Rate();
  let stopped = false;

  // The other nodes read this node's clock too far off (docs/CONSENSUS.md "Clocks").
  function clockOff(skewMs) {
    const side = skewMs < 0 ? "behind" : "ahead of";
    return `${(Math.abs(skewMs) / 1000).toFixed(1)} s ${side} the other nodes': this node does not lead until its time source is fixed`;
  }

  // The boxes refresh in place (refill): unchanged content is left alone
  // and keyboard focus on a link inside stays on the equivalent link.
  // While the node cannot be reached, what they show from before is marked
  // as of when it was last read, and dimmed.
  let lastOk = Date.now();
  const stale = new Set();
  function show(box, ...children) {
    stale.delete(box);
    box.classList.remove("stale");
    refill(box, ...children);
  }
  function markStale(box) {
    if (stale.has(box) || !box.firstChild) return;
    stale.add(box);
    box.classList.add("stale");
    const n = note("warn", `As of ${time(lastOk)}: the node cannot be reached, so this may be out of date.`);
    n.classList.add("stale-note");
    box.prepend(n);
  }

  async function refreshStatus() {
    try {
      const s = await get("/v1/status");
      lastOk = Date.now();
      show(statusBox, dl([
        ["Node", `${s.node.name} (${s.mode})`],
        ["Leader", s.leader || "none known"],
        ["Height", el("span", { id: "height" }, String(s.height))],
        ["Head block", s.height > 0 ? link(`#/block/${s.height}`, s.head_hash.slice(0, 16) + "…") : "none yet"],
        ["Head time", time(s.head_time_ms)],
        ["Txs committed", String(s.tx_total)],
        ["Mempool", `${s.mempool} waiting (of ${s.mempool_max})`],
        ["Chain", `${s.chain_name} · ${s.chain_id.slice(0, 16)}…`],
        s.ruleset ? ["Ruleset", rulesetText(s.ruleset)] : null,
        s.raft_state ? ["Raft", `${s.raft_state}, term ${s.term}, ${s.raft_voters} voters`] : null,
        s.store_full ? ["Store", el("strong", {}, "full: txs are refused")] : null,
        s.halted ? ["Halted", el("strong", {}, s.halt_reason || "yes")] : null,
        s.clock && s.clock.off ? ["Clock", el("strong", {}, clockOff(s.clock.skew_ms))] : null,
        s.restore_waiting ? ["Restored", el("strong", {}, `commits nothing until ${s.restore_waiting.join(", ")} said their heads`)] : null,
      ]));
      return s;
    } catch (e) {
      show(statusBox, errorNote(e, "Status"));
      if (e.code === "unreachable") [nodesBox, proposalsBox, blocksBox].forEach(markStale);
    }
  }

  async function refreshNodes(leader) {
    try {
      const n = await get("/v1/network");
      show(nodesBox, table(
        ["Name", "Organisation", "API", "Status", "Role"],
        n.nodes.map((x) => [x.name + (x.name === leader ? " ★ leader" : ""), x.org, x.api, x.status, x.raft_role || (n.nodes.length === 1 ? "solo" : "")]),
        `${n.active} active nodes, ${n.organisations} organisations govern`,
      ));
    } catch (e) {
      if (e.code === "unreachable") markStale(nodesBox);
      else show(nodesBox, errorNote(e, "Nodes"));
    }
    try {
      const p = await get("/v1/network/proposals?status=open");
      show(proposalsBox, p.proposals.length ? proposalsTable(p)
        : note("info", `No open proposals. Adding or removing a node needs ${p.needed} of the ${p.organisations} organisations (carechain network propose-add, approve).`));
    } catch (e) {
      if (e.code === "unreachable") markStale(proposalsBox);
      else show(proposalsBox, errorNote(e, "Proposals"));
    }
  }

  async function refreshBlocks() {
    try {
      const b = await get("/v1/blocks?limit=10");
      show(blocksBox, b.blocks.length ? blocksTable(b.blocks) : note("info", "No blocks yet."));
      return b.blocks;
    } catch (e) {
      if (e.code === "unreachable") markStale(blocksBox);
      else show(blocksBox, errorNote(e, "Blocks"));
      return [];
    }
  }

  const s = await refreshStatus();
  await refreshNodes(s && s.leader);
  // Seed the chart with the blocks of the last minutes.
  try {
    const b = await get("/v1/blocks?limit=100");
    for (const x of b.blocks) rate.add(x.time_ms, x.tx_count);
    show(blocksBox, b.blocks.length ? blocksTable(b.blocks.slice(0, 10)) : note("info", "No blocks yet."));
  } catch (e) {
    show(blocksBox, errorNote(e, "Blocks"));
  }
  const tick = () => drawChart(chartBox, rate.series(Math.floor(Date.now() / 1000)));
  tick();

  const events = new EventSource("/v1/events");
  let blockTimer = null;
  events.addEventListener("block", (ev) => {
    try {
      const d = JSON.parse(ev.data);
      rate.add(d.time_ms, d.tx_count);
      tick();
      if (!blockTimer) blockTimer = setTimeout(() => ((blockTimer = null), refreshBlocks()), 500);
    } catch (e) {
      /* a frame we do not understand: skip it */
    }
  });
  events.addEventListener("error", () => {
    if (!stopped && events.readyState === EventSource.CLOSED) clear(streamBox, note("warn", "The live event stream closed; reload the page to reconnect."));
  });
  const timers = [setInterval(tick, 1000), setInterval(async () => {
    const blocksWereStale = stale.has(blocksBox);
    const st = await refreshStatus();
    if (st) refreshNodes(st.leader);
    if (st && blocksWereStale) refreshBlocks(); // back: the blocks committed meanwhile sent no event here
  }, STATUS_EVERY_MS)];

  return () => {
    stopped = true;
    events.close();
    timers.forEach(clearInterval);
    if (blockTimer) clearTimeout(blockTimer);
  };
}
