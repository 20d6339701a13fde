// Live view of what the demo collector received (events.html). Every value shown came from a visitor's browser and
// is untrusted, so cells are built with createElement + textContent only, never innerHTML.
(() => {
  "use strict";

  const POLL_MS = 1000;
  const ENDPOINT = "/v1/events?limit=100";
  const EMPTY_TEXT = "No events yet — open the landing page with ?ref=NRY-01 and click around.";
  const COLUMNS = 7;
  const LABELS = ["Time", "Event", "Source", "Referral", "Customer", "Metadata", "Voucherify"];
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

  const CLOCK = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
  // An event is "late" when it reached the collector this long after (or before) its own time: it waited in the
  // visitor's outbox through an outage, or the sender's clock is off.
  const LATE_MS = 5000;

  const parseTime = (value) => {
    const date = new Date(asText(value));
    return Number.isNaN(date.getTime()) ? null : date;
  };

  // Today's times as 10:42:07; older ones with their date, so a day-old event does not pass for a fresh one.
  function clock(date) {
    if (date.toDateString() === new Date().toDateString()) return date.toLocaleTimeString([], CLOCK);
    return date.toLocaleString([], { month: "short", day: "numeric", ...CLOCK });
  }

  function timeElement(date) {
    const time = el("time", "", clock(date));
    time.dateTime = date.toISOString();
    return time;
  }

  function duration(ms) {
    const seconds = Math.round(Math.abs(ms) / 1000);
    if (seconds < 120) return `${seconds} s`;
    const minutes = Math.round(seconds / 60);
    if (minutes < 120) return `${minutes} min`;
    const hours = Math.round(minutes / 60);
    return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
  }

  // When the event happened (its own `timestamp`, by the sender's clock), and when the collector received it if that
  // was more than a few seconds apart: after an outage, the arrival time alone would hide when the visitor acted.
  function timeCell(stored, wire) {
    const happened = parseTime(wire.timestamp);
    const received = parseTime(stored.received_at);
    if (!happened && !received) return cell("", "nowrap");
    const td = el("td", "nowrap time-cell");
    if (!happened) {
      const time = timeElement(received);
      time.title = `Received ${received.toISOString()}; the event carries no time of its own`;
      td.append(time);
      return td;
    }
    const time = timeElement(happened);
    time.title = `Happened ${happened.toISOString()} (the sender's clock)`;
    td.append(time);
    if (received && Math.abs(received.getTime() - happened.getTime()) > LATE_MS) {
      const gap = received.getTime() - happened.getTime();
      const arrived = el("span", "arrived", "arrived ");
      arrived.append(timeElement(received));
      arrived.title =
        gap > 0
          ? `Received by the collector ${received.toISOString()}, ${duration(gap)} after it happened: it waited in the visitor's outbox (an outage, or a closed tab), or the sender's clock is behind`
          : `Received by the collector ${received.toISOString()}, ${duration(gap)} before the time it carries: the sender's clock is ahead`;
      td.append(arrived);
    }
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
      // Spaced ({ "plan": "pro", "newsletter": false }), so a narrow column wraps between fields, not inside them.
      // Layout only: string values are escaped, so the only raw line breaks are the ones JSON.stringify adds.
      return JSON.stringify(metadata, null, 1).replace(/\n\s*/g, " ");
    } catch {
      return "";
    }
  }

  // One stored event of GET /v1/events: { seq, id, received_at, event, source_id, referral_code, source, body, forwarding }.
  function row(stored) {
    const wire = isObject(stored.body) ? stored.body : {};
    const tr = el("tr");
    if (asText(stored.id)) tr.dataset.eventId = asText(stored.id);
    const cells = [
      timeCell(stored, wire),
      cell(asText(stored.event), "event-name"),
      sourceCell(stored.source),
      cell(asText(stored.referral_code), "mono"),
      cell(asText(stored.source_id)),
      cell(metadataText(wire.metadata), "json"),
      forwardingCell(stored.forwarding, wire),
    ];
    // Each cell names its column, for the stacked layout of narrow screens (style.css).
    cells.forEach((td, index) => (td.dataset.label = LABELS[index] ?? ""));
    tr.append(...cells);
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
