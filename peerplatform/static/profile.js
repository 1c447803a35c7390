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
  document.getElementById("profile-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const data = {};
    for (const el of e.target.elements) if (el.name) data[el.name] = el.value;
    put("profile", JSON.stringify(data), "application/json")
      .then(() => { status("Saved."); window.location.reload(); })
      .catch((err) => status("Not saved: " + err.message));
  });
  document.getElementById("picture-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const file = document.getElementById("picture").files[0];
    if (!file) return status("Choose a picture first.");
    put("profile/picture", file, file.type || "application/octet-stream")
      .then(() => { status("Picture updated."); window.location.reload(); })
      .catch((err) => status("Not uploaded: " + err.message));
  });
})();
