// Security keys (WebAuthn) on mailgate's pages. A form marked data-webauthn="get" (sign in)
// or "create" (register) is shown only when the browser has WebAuthn; on submit it asks
// data-options (POST, with the form's CSRF token) for the ceremony's options, hands them to
// navigator.credentials, puts the browser's answer as JSON in the form's "answer" field and
// submits the form. Nothing else: every check is the server's.
"use strict";
(function () {
  function toBytes(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }
  function toText(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function answerOf(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify({ id: credential.id, rawId: toText(credential.rawId),
      type: credential.type, response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults() });
  }
  async function ceremony(form) {
    const body = new FormData();
    body.append("csrf", form.elements.csrf.value);
    const asked = await fetch(form.dataset.options, { method: "POST", body: body,
      credentials: "same-origin" });
    if (!asked.ok) throw new Error("the server did not start it (" + asked.status + ")");
    const options = await asked.json();
    options.challenge = toBytes(options.challenge);
    if (form.dataset.webauthn === "create") {
      options.user.id = toBytes(options.user.id);
      for (const c of options.excludeCredentials || []) c.id = toBytes(c.id);
      return navigator.credentials.create({ publicKey: options });
    }
    for (const c of options.allowCredentials || []) c.id = toBytes(c.id);
    return navigator.credentials.get({ publicKey: options });
  }
  if (!window.PublicKeyCredential) return;
  for (const form of document.querySelectorAll("form[data-webauthn]")) {
    const status = form.querySelector("[data-status]");
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.textContent = "Touch your security key…";
      try {
        const credential = await ceremony(form);
        form.elements.answer.value = answerOf(credential);
        status.textContent = "";
        form.submit();
      } catch (error) {
        status.textContent = "The security key did not answer: " + error.message;
      }
    });
  }
})();
