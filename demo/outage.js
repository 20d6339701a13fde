// The live view's "simulate an outage" control: the demo endpoint answers 503 for a while, so a visitor can watch
// events wait in the browser's outbox and arrive afterwards.
(() => {
  "use strict";
  const button = document.getElementById("outage");
  const status = document.getElementById("outage-status");
  if (!button || !status) return;

  const token = document.querySelector('meta[name="reftrack-read-token"]')?.getAttribute("content") ?? "";
  const authorization = `Bearer ${token}`;
  let timer = 0;
  function show(until) {
    clearInterval(timer);
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      button.disabled = left > 0;
      status.textContent = left > 0 ? `Endpoint down: answering 503 for ${left} more s.` : until ? "Endpoint back up." : "";
      if (left <= 0) clearInterval(timer);
    };
    tick();
    timer = setInterval(tick, 500);
  }

  button.addEventListener("click", async () => {
    try {
      const response = await fetch("/demo/outage", { method: "POST", headers: { "Content-Type": "application/json", authorization }, body: JSON.stringify({ seconds: 30 }) });
      const { until } = await response.json();
      show(Number(until) || 0);
    } catch {
      status.textContent = "Could not reach the demo endpoint.";
    }
  });

  fetch("/demo/outage", { headers: { authorization } })
    .then((response) => response.json())
    .then(({ until }) => (Number(until) > Date.now() ? show(Number(until)) : undefined))
    .catch(() => undefined);
})();
