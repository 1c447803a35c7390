// Review pages: times in the reader's locale and zone; the replay, a time slider over the
// notebook snapshots the pair server stored (<= 2 s apart); rating the partner.
(function () {
  "use strict";
  const prefix = document.body.dataset.prefix;

  // The server writes UTC in <time datetime>; the reader sees their own local time.
  for (const el of document.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    el.title = el.textContent;
    el.textContent = when.toLocaleString(undefined, {
      dateStyle: "medium", timeStyle: el.hasAttribute("data-seconds") ? "medium" : "short",
    });
  }

  const box = document.getElementById("replay");
  if (box) replay(box);
  rating();

  function replay(box) {
    const slider = document.getElementById("replay-slider");
    const who = document.getElementById("replay-who");
    const label = document.getElementById("replay-time");
    const cellsEl = document.getElementById("replay-cells");
    let all = [], shown = [];

    function fmt(t) { const m = Math.floor(t / 60), s = Math.floor(t % 60); return `${m}:${String(s).padStart(2, "0")}`; }
    function draw() {
      const snap = shown[Number(slider.value)];
      cellsEl.textContent = "";
      if (!snap) { label.textContent = "no edits to replay"; return; }
      // the last snapshot is taken when the session ends: it is somebody's edit only if it
      // changed something
      const what = snap.final
        ? (snap.unchanged ? "end of session" : `edit by ${snap.by || "?"} · end of session`)
        : `edit by ${snap.by || "?"}`;
      label.textContent = `${fmt(snap.t)} · ${what} (${Number(slider.value) + 1}/${shown.length})`;
      for (const cell of snap.cells) {
        const div = document.createElement("div");
        div.className = "cell " + cell.cell_type;
        const pre = document.createElement("pre");
        pre.textContent = cell.source;  // text only: nothing in a notebook runs here
        div.append(pre);
        cellsEl.append(div);
      }
      box.dataset.t = String(snap.t);
    }
    function filter() {
      shown = who.value ? all.filter((s) => s.by === who.value && !s.unchanged) : all;
      slider.max = String(Math.max(0, shown.length - 1));
      slider.value = String(Math.max(0, shown.length - 1));
      draw();
    }
    slider.addEventListener("input", draw);
    who.addEventListener("change", filter);
    const headers = { "X-XSRFToken": document.body.dataset.xsrf };  // same-origin fetches need it
    fetch(prefix + "api/review/sessions/" + box.dataset.session + "/replay", { credentials: "same-origin", headers })
      .then((r) => r.json())
      .then((data) => {
        all = data.snapshots || [];
        all.forEach((s, i) => {
          s.unchanged = i > 0 && JSON.stringify(s.cells) === JSON.stringify(all[i - 1].cells);
        });
        filter();
        box.dataset.ready = "1";
      })
      .catch(() => { label.textContent = "the replay could not be loaded"; });
  }

  // Rating the partner (members of an ended session): POST once, then PUT within the window.
  function rating() {
    const form = document.getElementById("rate-form");
    if (form) {
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const body = {};
        for (const el of form.elements) {
          if (!el.name) continue;
          body[el.name] = el.name === "comment" ? el.value : Number(el.value);
        }
        fetch(prefix + "api/sessions/" + form.dataset.session + "/rating", {
          method: form.dataset.method, credentials: "same-origin", body: JSON.stringify(body),
          headers: { "X-XSRFToken": document.body.dataset.xsrf, "Content-Type": "application/json" },
        }).then(async (r) => {
          const json = await r.json().catch(() => ({}));
          if (!r.ok) throw new Error(json.message || r.statusText);
          form.dataset.method = "PUT";
          document.getElementById("rate-submit").textContent = "Change my rating";
          document.getElementById("rate-status").textContent = "Thank you: your rating was saved.";
        }).catch((err) => { document.getElementById("rate-status").textContent = "Not saved: " + err.message; });
      });
    }
  }
})();
