// The console's progressive enhancement. Every task works without this file; with it:
//  - GOV.UK Frontend's components start (error summaries take focus, menus open);
//  - a plan being made shows each partner's answer as it arrives (server-sent events), then
//    shows the plan;
//  - a case page follows its referrals' states live.
import { initAll } from "./govuk-frontend.min.js";

initAll();

// Making a plan: the form's own post works without JavaScript; with it, the same form
// starts the plan and each partner's answer is listed as it arrives.
function livePlan(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const list = document.getElementById("answers");
    const status = document.getElementById("answers-status");
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    if (status) status.textContent = "Asking the partners…";
    let started;
    try {
      const response = await fetch(form.dataset.livePlan, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(String(response.status));
      started = await response.json();
    } catch (error) {
      form.submit();
      return;
    }
    const source = new EventSource(started.events);
    source.addEventListener("answer", (message) => {
      const answer = JSON.parse(message.data);
      const item = document.createElement("li");
      item.textContent = answer.text;
      list.appendChild(item);
    });
    source.addEventListener("done", (message) => {
      source.close();
      const done = JSON.parse(message.data);
      if (status) status.textContent = done.text;
      window.location.assign(done.href);
    });
    source.addEventListener("failed", (message) => {
      source.close();
      if (status) status.textContent = JSON.parse(message.data).text;
    });
  });
}

function liveStates(table) {
  const source = new EventSource(table.dataset.liveStates);
  source.addEventListener("state", (event) => {
    const change = JSON.parse(event.data);
    const cell = document.getElementById("state-" + change.referral);
    if (cell && cell.textContent.trim() !== change.label) {
      (cell.querySelector(".govuk-tag") || cell).textContent = change.label;
      const note = document.getElementById("states-status");
      if (note) note.textContent = "A referral's state changed: " + change.label + ".";
    }
  });
  source.addEventListener("error", () => source.close());
}

document.querySelectorAll("form[data-live-plan]").forEach(livePlan);
document.querySelectorAll("[data-live-states]").forEach(liveStates);

// Buttons that say "Print" print.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
