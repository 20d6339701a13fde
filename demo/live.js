// Live view of what the demo collector received (events.html). Every value shown came from a visitor's browser and
// is untrusted, so cells are built with createElement + textContent only, never innerHTML.
(() => {
  "use strict";

  const POLL_MS = 1000;
  const ENDPOINT = "/v1/events?limit=100";
  const EMPTY_TEXT = "No events yet — open the landing page with ?ref=NRY-01 and click around.";
  const COLUMNS = 7;
  // The demo server puts its read token here, for this page only: reading the collector takes it.
  const TOKEN = document.querySelector('meta[name="reftrack-read-token"]')?.getAttribute("content") ?? "";

  const body = document.getElementById("events-body");
  const count = document.getElementById("event-count");
  const shown = document.getElementById("events-shown");
  const status = document.getElementById("live-status");
  if (!body || !count || !status) return;

  let lastResponse = null;

  const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
  const asText = (value) => (typeof value === "string" || typeof value === "number" ? String(value) : "");

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function cell(text, className) {
    const td = el("td", className);
    if (text) td.textContent = text;
    else td.append(el("span", "none", "—"));
    return td;
  }

  function timeCell(iso) {
    const td = el("td", "nowrap");
    const date = new Date(asText(iso));
    if (Number.isNaN(date.getTime())) return cell("", "nowrap");
    const time = el("time", "", date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }));
    time.dateTime = date.toISOString();
    time.title = date.toISOString();
    td.append(time);
    return td;
  }

  // Forwarding to Voucherify: sent (green), failed (red, with the reason as a tooltip), pending, or off.
  function forwardingCell(forwarding, wire) {
    if (wire.via === "voucherify-client-api") {
      const td = el("td", "nowrap");
      td.append(el("span", "badge badge-accepted", "direct"));
      td.title = "Sent by the browser straight to Voucherify's client API (the demo's stand-in), not through the collector";
      return td;
    }
    if (!isObject(forwarding)) return cell("", "nowrap");
    const td = el("td", "nowrap");
    const status = asText(forwarding.status);
    const colour = status === "sent" ? "badge badge-accepted" : status === "failed" ? "badge badge-rejected" : "badge";
    const badge = el("span", colour, status || "unknown");
    if (asText(forwarding.last_error)) badge.title = asText(forwarding.last_error);
    td.append(badge);
    return td;
  }

  // Who sent it: the site's server (with its key, trusted with conversions) or a visitor's browser.
  function sourceCell(source) {
    const td = el("td", "nowrap");
    const text = asText(source);
    if (!text) return cell("", "nowrap");
    const badge = el("span", text === "server" ? "badge badge-server" : "badge", text);
    badge.title = text === "server" ? "Sent by the site's server with a server key" : "Sent by a visitor's browser";
    td.append(badge);
    return td;
  }

  function metadataText(metadata) {
    if (metadata === undefined) return "";
    try {
      return JSON.stringify(metadata);
    } catch {
      return "";
    }
  }

  // One stored event of GET /v1/events: { seq, id, received_at, event, source_id, referral_code, source, body, forwarding }.
  function row(stored) {
    const wire = isObject(stored.body) ? stored.body : {};
    const tr = el("tr");
    if (asText(stored.id)) tr.dataset.eventId = asText(stored.id);
    tr.append(
      timeCell(stored.received_at),
      cell(asText(stored.event), "event-name"),
      sourceCell(stored.source),
      cell(asText(stored.referral_code), "mono"),
      cell(asText(stored.source_id)),
      cell(metadataText(wire.metadata), "json"),
      forwardingCell(stored.forwarding, wire),
    );
    return tr;
  }

  function emptyRow() {
    const tr = el("tr", "empty");
    tr.id = "events-empty";
    const td = el("td", "", EMPTY_TEXT);
    td.colSpan = COLUMNS;
    tr.append(td);
    return tr;
  }

  function render(data) {
    const events = Array.isArray(data.events) ? data.events.filter(isObject) : [];
    const total = Number.isInteger(data.total) ? data.total : events.length;
    body.replaceChildren(...(events.length > 0 ? events.map(row) : [emptyRow()]));
    count.textContent = `${total} ${total === 1 ? "event" : "events"}`;
    if (shown) {
      shown.hidden = events.length >= total;
      shown.textContent = `showing the latest ${events.length}`;
    }
  }

  function setStatus(state, text) {
    status.className = `live-status is-${state}`;
    if (status.textContent !== text) status.textContent = text;
  }

  // Chained timeouts rather than setInterval, so a slow response never stacks requests.
  async function poll() {
    try {
      const response = await fetch(ENDPOINT, { cache: "no-store", headers: { accept: "application/json", authorization: `Bearer ${TOKEN}` } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      // Rebuild the table only when something changed, so selecting text in it survives the refresh.
      if (text !== lastResponse) {
        const data = JSON.parse(text);
        if (!isObject(data)) throw new Error("unexpected response");
        render(data);
        lastResponse = text;
      }
      setStatus("live", "Live");
    } catch (error) {
      setStatus("error", `Cannot reach the demo collector (${error instanceof Error ? error.message : String(error)}), retrying…`);
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
