// Lobby: join the waiting room, keep presence alive, follow match + spawn events, then go.
(function () {
  "use strict";
  const body = document.body;
  const prefix = body.dataset.prefix;
  const xsrf = body.dataset.xsrf;
  const heartbeatMs = Number(body.dataset.heartbeat || 3) * 1000;
  const $ = (id) => document.getElementById(id);
  let heartbeat = null;
  let offer = null;  // {id, deadline (ms), timer}

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

  function status(text) { $("status").textContent = text; }
  function error(text) { $("error").textContent = text; $("error").hidden = !text; }
  function waiting(on) {
    $("join").hidden = on; $("leave").hidden = !on;
    $("difficulty").disabled = on; $("duration").disabled = on;
    if (on && !heartbeat) {
      heartbeat = setInterval(() => api("POST", "waiting-room/heartbeat", {}).catch(() => {}), heartbeatMs);
    } else if (!on && heartbeat) {
      clearInterval(heartbeat); heartbeat = null;
    }
  }
  function go(url) {
    status("Your session is ready. Opening the notebook…");
    $("rejoin-link").href = url; $("rejoin").hidden = false;
    window.location.assign(url);
  }

  // The handshake: both accept within the time shown, or the match is off.
  function showOffer(id, partner, expiresIn, accepted) {
    hideOffer();
    offer = { id, partner, deadline: Date.now() + expiresIn * 1000, timer: null };
    $("offer").hidden = false;
    $("accept-match").hidden = accepted; $("decline-match").hidden = false;
    const tick = () => {
      const left = Math.max(0, Math.ceil((offer.deadline - Date.now()) / 1000));
      $("offer-text").textContent = accepted
        ? `You accepted. Waiting for ${partner} to accept (${left} s)…`
        : `Matched with ${partner}. Accept within ${left} s.` +
          (offer.partnerAccepted ? " Your partner accepted." : "");
    };
    tick(); offer.timer = setInterval(tick, 500);
    status(accepted ? "Waiting for your partner to accept…" : `A partner is ready: ${partner}.`);
  }
  function hideOffer() {
    if (offer && offer.timer) clearInterval(offer.timer);
    offer = null; $("offer").hidden = true;
  }
  $("accept-match").addEventListener("click", () => {
    if (!offer) return;
    const { id, partner } = offer;
    $("accept-match").hidden = true;  // no double answer
    api("POST", `matches/${id}/accept`, {})
      .then((r) => {
        if (r.state === "accepted" && offer && offer.id === id) {
          showOffer(id, partner, (offer.deadline - Date.now()) / 1000, true);
        }
      })
      .catch((err) => { hideOffer(); error(err.message); });
  });
  $("decline-match").addEventListener("click", () => {
    if (!offer) return;
    api("POST", `matches/${offer.id}/decline`, {})
      .then(() => { hideOffer(); waiting(false); status("You declined the match and left the waiting room."); })
      .catch((err) => { hideOffer(); error(err.message); });
  });

  $("join-form").addEventListener("submit", (e) => {
    e.preventDefault();
    error("");
    const preferences = { difficulty: $("difficulty").value,
                          duration_minutes: Number($("duration").value) };
    api("POST", "waiting-room", { preferences })
      .then(() => { waiting(true); status("Waiting for a partner…"); })
      .catch((err) => error(err.message));
  });
  $("leave").addEventListener("click", () => {
    api("DELETE", "waiting-room").then(() => { waiting(false); status("You left the waiting room."); })
      .catch((err) => error(err.message));
  });

  // EventSource cannot send headers: the XSRF token goes in the query (JupyterHub's cookie
  // auth refuses same-origin "cors" GETs without it, so events would never arrive).
  const events = new EventSource(prefix + "api/events?_xsrf=" + encodeURIComponent(xsrf));
  events.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    switch (ev.type) {
      case "match_offered":
        $("join").hidden = true; $("leave").hidden = false;
        showOffer(ev.match, ev.partner, ev.expires_in, false);
        break;
      case "partner_accepted":
        if (offer && offer.id === ev.match) offer.partnerAccepted = true;
        break;
      case "match_cancelled":
        hideOffer();
        if (ev.requeued) { waiting(true); status("Waiting for a partner…"); error(ev.reason); }
        else { waiting(false); status("You are not in the waiting room."); error(ev.reason); }
        break;
      case "matched":
        hideOffer(); waiting(false); $("join").hidden = true;
        status(`Matched with ${ev.partner}. You start as the ${ev.role}.`);
        $("progress-box").hidden = false;
        break;
      case "progress":
        $("progress-box").hidden = false;
        $("progress").value = ev.progress || 0;
        $("progress-message").textContent = ev.message || "";
        break;
      case "ready":
        $("progress").value = 100;
        go(ev.url);
        break;
      case "failed":
        waiting(false); $("progress-box").hidden = true; $("join").hidden = false;
        status("You are back in the lobby.");
        error(`The session could not start: ${ev.reason}. Join again to be matched anew.`);
        break;
      case "ended":
        $("rejoin").hidden = true; $("join").hidden = false;
        status("Your session has ended.");
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
    if (!me.session && me.last_session && me.last_session.state === "ended") rateLast(me.last_session.id);
    if (me.session && me.session.state === "active" && me.session.url) {
      status("You are in a session."); $("join").hidden = true;
      $("rejoin-link").href = me.session.url; $("rejoin").hidden = false;
    } else if (me.session) {
      status("Your session is starting…"); $("join").hidden = true; $("progress-box").hidden = false;
    } else if (me.state === "waiting") {
      waiting(true); status("Waiting for a partner…");
    } else if (me.state === "matched" && me.match) {
      waiting(true); $("join").hidden = true;
      showOffer(me.match.id, me.match.partner, me.match.expires_in, me.match.accepted);
    }
  }).catch((err) => error(err.message));
})();
