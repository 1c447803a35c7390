// Leaderboard page: applies every rating change pushed by the server (SSE) without a reload.
(function () {
  "use strict";
  const prefix = document.body.dataset.prefix;
  const table = document.getElementById("board-table");
  const board = table.dataset.board;
  const cohort = table.dataset.cohort;
  const rowsEl = document.getElementById("board-rows");
  const cohortRowsEl = document.getElementById("cohort-rows");
  const LIMIT = 100;
  const $ = (tag, text) => { const el = document.createElement(tag); el.textContent = text; return el; };

  function read(tbody, key) {
    return Array.from(tbody.rows).map((tr) => ({
      name: tr.dataset[key], score: Number(tr.dataset.score), n: Number(tr.dataset.n || 0),
      counted: tr.cells[3] ? tr.cells[3].textContent : "",
    }));
  }
  function render(tbody, rows, key, changed) {
    rows.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : 1));
    rows = rows.slice(0, LIMIT);
    const ranks = rows.map((r, i) => (i > 0 && Math.abs(rows[i - 1].score - r.score) < 1e-9 ? null : i + 1));
    for (let i = 0; i < ranks.length; i++) if (ranks[i] === null) ranks[i] = ranks[i - 1];
    tbody.textContent = "";
    rows.forEach((r, i) => {
      const tied = ranks.filter((x) => x === ranks[i]).length > 1;
      const tr = document.createElement("tr");
      tr.dataset[key] = r.name; tr.dataset.score = String(r.score); tr.dataset.n = String(r.n);
      tr.append($("td", (tied ? "=" : "") + ranks[i]), $("td", r.name), $("td", r.score.toFixed(2)),
                $("td", key === "user" ? String(r.n) : r.counted));
      if (r.name === changed) tr.classList.add("flash");
      tbody.append(tr);
    });
    const empty = document.getElementById(key === "user" ? "empty" : "cohort-empty");
    if (empty) empty.hidden = rows.length > 0;
  }
  function apply(ev) {
    if (!cohort || ev.cohort === cohort) {
      const rows = read(rowsEl, "user").filter((r) => r.name !== ev.user);
      rows.push({ name: ev.user, score: ev.scores[board], n: ev.n });
      render(rowsEl, rows, "user", ev.user);
    }
    if (ev.cohort && ev.cohort_score !== null) {
      const rows = read(cohortRowsEl, "cohort");
      const others = rows.filter((r) => r.name !== ev.cohort);
      others.push({ name: ev.cohort, score: ev.cohort_score, counted: String(ev.cohort_counted) });
      render(cohortRowsEl, others, "cohort", ev.cohort);
    }
    document.getElementById("live").textContent = `Updated: ${ev.user} now has ${ev.n} rating(s).`;
  }
  // SSE is a CORS-mode fetch: JupyterHub wants the XSRF token with the cookie (in the URL here)
  const xsrf = document.body.dataset.xsrf || "";
  const events = new EventSource(prefix + "api/leaderboard/events?_xsrf=" + encodeURIComponent(xsrf));
  events.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === "leaderboard") apply(ev);
    else if (ev.type === "rebuilt") window.location.reload();
    else if (ev.type === "hello") document.body.dataset.live = "1";
  };
})();
