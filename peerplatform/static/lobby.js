// Lobby: join the waiting room, keep presence alive, follow match + spawn events, then go.
//
// The page is in one state at a time (show() below draws it whole): idle, waiting, offered,
// accepted (we accepted, the partner has not yet), starting (the shared server spawns), active
// (a session runs: a link to it). Events and answers to our own requests can arrive in either
// order (a match can be offered before the join request has answered), so a late answer never
// takes the page back to an earlier state.
(function () {
  "use strict";
  const body = document.body;
  const prefix = body.dataset.prefix;
  const xsrf = body.dataset.xsrf;
  const heartbeatMs = Number(body.dataset.heartbeat || 3) * 1000;
  const $ = (id) => document.getElementById(id);
  let state = "idle";
  let heartbeat = null;
  let offer = null;  // {id, partner, deadline (ms), partnerAccepted, timer}

  function api(method, path, data) {
    const opts = { method, headers: { "X-XSRFToken": xsrf }, credentials: "same-origin" };
    if (data !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(data);
    }
    return fetch(prefix + "api/" + path, opts).then(async (r) => {
      const json = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(json.message || r.statusText);
      return json;
    });
  }

  function error(text) { $("error").textContent = text; $("error").hidden = !text; }

  // Draw the page for one state; `text` is the status line.
  function show(next, text) {
    state = next;
    $("status").textContent = text;
    $("join").hidden = next !== "idle";
    $("leave").hidden = next !== "waiting";
    // the choices are the session's once asked for: editable only while not in the room
    $("difficulty").disabled = $("duration").disabled = next !== "idle";
    $("offer").hidden = !["offered", "accepted"].includes(next);
    $("accept-match").hidden = next !== "offered";
    $("progress-box").hidden = next !== "starting";
    $("rejoin").hidden = next !== "active";
    if (!["offered", "accepted"].includes(next)) clearOffer();
    // in the room, matched or not, heartbeats keep us there
    const present = ["waiting", "offered", "accepted"].includes(next);
    if (present && !heartbeat) {
      heartbeat = setInterval(
        () => api("POST", "waiting-room/heartbeat", {}).catch(() => {}), heartbeatMs);
    } else if (!present && heartbeat) {
      clearInterval(heartbeat); heartbeat = null;
    }
  }
  function go(url) {
    $("rejoin-link").href = url;
    show("active", "Your session is ready. Opening the notebook…");
    window.location.assign(url);
  }

  // The handshake: both accept within the time shown, or the match is off.
  function showOffer(id, partner, expiresIn, accepted) {
    const partnerAccepted = offer && offer.id === id && offer.partnerAccepted;
    clearOffer();
    offer = { id, partner, deadline: Date.now() + expiresIn * 1000, partnerAccepted, timer: null };
    show(accepted ? "accepted" : "offered", `Matched with ${partner}.`);
    const tick = () => {
      const left = Math.max(0, Math.ceil((offer.deadline - Date.now()) / 1000));
      $("offer-text").textContent = accepted
        ? `You accepted. Waiting for ${partner} to accept (${left} s)…`
        : (offer.partnerAccepted ? "Your partner accepted. " : "") +
          `Accept within ${left} s to start the session with ${partner}.`;
    };
    offer.tick = tick;
    tick(); offer.timer = setInterval(tick, 500);
  }
  function clearOffer() {
    if (offer && offer.timer) clearInterval(offer.timer);
    offer = null;
  }
  $("accept-match").addEventListener("click", () => {
    if (!offer) return;
    const { id, partner } = offer;
    $("accept-match").hidden = true;  // no double answer
    api("POST", `matches/${id}/accept`, {})
      .then((r) => {
        if (r.state === "accepted" && offer && offer.id === id && state === "offered") {
          showOffer(id, partner, (offer.deadline - Date.now()) / 1000, true);
        }
      })
      .catch((err) => {  // e.g. the match is over: its match_cancelled event redraws the page
        error(err.message); $("accept-match").hidden = state !== "offered";
      });
  });
  $("decline-match").addEventListener("click", () => {
    if (!offer) return;
    api("POST", `matches/${offer.id}/decline`, {})
      .then(() => show("idle", "You declined the match and left the waiting room."))
      .catch((err) => error(err.message));
  });

  $("join-form").addEventListener("submit", (e) => {
    e.preventDefault();
    error("");
    const preferences = { difficulty: $("difficulty").value };
    // an empty value is the default length (one that is not whole minutes): left out
    if ($("duration").value) preferences.duration_minutes = Number($("duration").value);
    $("join").disabled = true;
    api("POST", "waiting-room", { preferences })
      .then(() => { if (state === "idle") show("waiting", "Waiting for a partner…"); })
      .catch((err) => error(err.message))
      .finally(() => { $("join").disabled = false; });
  });
  $("leave").addEventListener("click", () => {
    api("DELETE", "waiting-room").then(() => show("idle", "You left the waiting room."))
      .catch((err) => error(err.message));
  });

  // EventSource cannot send headers: the XSRF token goes in the query (JupyterHub's cookie
  // auth refuses same-origin "cors" GETs without it, so events would never arrive).
  const events = new EventSource(prefix + "api/events?_xsrf=" + encodeURIComponent(xsrf));
  events.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    switch (ev.type) {
      case "match_offered":
        error("");
        showOffer(ev.match, ev.partner, ev.expires_in, false);
        break;
      case "partner_accepted":
        if (offer && offer.id === ev.match) { offer.partnerAccepted = true; offer.tick(); }
        break;
      case "match_cancelled":
        if (ev.requeued) show("waiting", "Waiting for a partner…");
        else show("idle", "You are not in the waiting room.");
        error(ev.reason);
        break;
      case "matched":
        show("starting", `Matched with ${ev.partner}. You start as the ${ev.role}.`);
        break;
      case "progress":
        if (state !== "starting") show("starting", "Your session is starting…");
        $("progress").value = ev.progress || 0;
        $("progress-message").textContent = ev.message || "";
        break;
      case "ready":
        $("progress").value = 100;
        go(ev.url);
        break;
      case "failed":
        show("idle", "You are back in the lobby.");
        error(`The session could not start: ${ev.reason}. Join again to be matched anew.`);
        break;
      case "ended":
        show("idle", "Your session has ended.");
        rateLast(ev.session);
        break;
    }
  };

  // After a session: a way to rate the partner (the session's review page holds the form).
  function rateLast(sessionId) {
    if (!sessionId) return;
    $("rate-last-link").href = prefix + "review/" + encodeURIComponent(sessionId);
    $("rate-last").hidden = false;
  }

  // Coming back to the lobby (reload, second tab): show where we are.
  api("GET", "me").then((me) => {
    if (state !== "idle") return;  // an event already told us more
    if (!me.session && me.last_session && me.last_session.state === "ended") {
      rateLast(me.last_session.id);
    }
    if (me.session && me.session.state === "active" && me.session.url) {
      $("rejoin-link").href = me.session.url;
      show("active", "You are in a session.");
    } else if (me.session) {
      show("starting", "Your session is starting…");
    } else if (me.state === "waiting") {
      show("waiting", "Waiting for a partner…");
    } else if (me.state === "matched" && me.match) {
      showOffer(me.match.id, me.match.partner, me.match.expires_in, me.match.accepted);
    }
  }).catch((err) => error(err.message));
})();
