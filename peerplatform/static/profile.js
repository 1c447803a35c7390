// Own profile: save the fields (JSON PUT) and upload a picture (raw body PUT).
(function () {
  "use strict";
  const prefix = document.body.dataset.prefix;
  const xsrf = document.body.dataset.xsrf;
  const status = (t) => { document.getElementById("profile-status").textContent = t; };
  async function put(path, body, type) {
    const r = await fetch(prefix + "api/" + path, {
      method: "PUT", credentials: "same-origin", body,
      headers: { "X-XSRFToken": xsrf, "Content-Type": type },
    });
    const json = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(json.message || r.statusText);
    return json;
  }
  // The card shows what was saved: it is swapped for the server's fresh one, not the whole
  // page reloaded, so the confirmation (and the keyboard focus) stay where they are.
  async function refreshCard() {
    // (a fetch is not a navigation: JupyterHub wants the XSRF token with the cookie)
    const r = await fetch(window.location.href, {
      credentials: "same-origin", headers: { "X-XSRFToken": xsrf },
    });
    if (!r.ok) throw new Error(r.statusText);
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html")
      .getElementById("profile-card");
    if (fresh) document.getElementById("profile-card").replaceWith(document.adoptNode(fresh));
  }
  function done(message) {
    status(message);
    return refreshCard().catch(() => status(message + " Reload the page to see it."));
  }
  document.getElementById("profile-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const data = {};
    for (const el of e.target.elements) if (el.name) data[el.name] = el.value;
    put("profile", JSON.stringify(data), "application/json")
      .then(() => done("Saved."))
      .catch((err) => status("Not saved: " + err.message));
  });
  document.getElementById("picture-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const file = document.getElementById("picture").files[0];
    if (!file) return status("Choose a picture first.");
    put("profile/picture", file, file.type || "application/octet-stream")
      .then(() => done("Picture updated."))
      .catch((err) => status("Not uploaded: " + err.message));
  });
})();
