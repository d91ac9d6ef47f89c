// Passkeys on Latchkey's login pages (handlers/login).
//
// On the login page (main[data-passkey=signin]): "Sign in with a passkey"
// runs a discoverable WebAuthn sign-in, and where the browser has
// conditional mediation the username field offers the passkeys in its
// autofill (autocomplete="username webauthn"). On the add-passkey page
// (main[data-passkey=register]): "Add a passkey" registers one.
//
// The page names its JSON routes (data-begin, data-finish) and its error
// area (data-error); the pending request's id and CSRF token are the
// form's hidden fields, posted with every call, and the server answers a
// finished ceremony with {"location": …}, where the browser goes next.
// Loaded from the page's own origin under its CSP (script-src 'self';
// connect-src 'self'): no inline script, no eval, no event handler
// attributes. Without it the password form and Skip work as they are.
"use strict";

(function () {
  const root = document.querySelector("main[data-passkey]");
  if (!root || !window.PublicKeyCredential || !navigator.credentials) {
    return; // no WebAuthn here: the page stays as the server rendered it
  }
  const form = root.querySelector("form");
  const errorArea = document.getElementById(root.dataset.error);
  const unavailable = "Sign-in is unavailable right now. Try again in a moment.";
  let leaving = false; // the browser is going to the next page

  // base64url, as WebAuthn's JSON forms and the server use.
  function decode(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function encode(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function pending() {
    return {
      request: form.elements.namedItem("request").value,
      csrf: form.elements.namedItem("csrf").value,
    };
  }

  function showError(msg) {
    if (errorArea) {
      errorArea.textContent = msg;
      errorArea.hidden = false;
    }
  }

  function clearError() {
    if (errorArea) {
      errorArea.hidden = true;
      errorArea.textContent = "";
    }
  }

  // ServerError is the server's refusal; its message may be shown.
  class ServerError extends Error {}

  // post sends body as JSON to one of the page's routes. An answer that
  // names a location sends the browser there and resolves to null.
  async function post(url, body, signal) {
    let resp;
    try {
      resp = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        signal: signal,
      });
    } catch (e) {
      if (signal && signal.aborted) {
        throw e;
      }
      throw new ServerError(unavailable);
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (data && typeof data.location === "string") {
      leaving = true;
      window.location.assign(data.location);
      return null;
    }
    if (!resp.ok || !data) {
      throw new ServerError((data && data.error_description) || unavailable);
    }
    return data;
  }

  // message is the sentence shown for a failed ceremony.
  function message(e, what) {
    if (e instanceof ServerError) {
      return e.message;
    }
    switch (e && e.name) {
      case "NotAllowedError":
        return what + " was cancelled or timed out.";
      case "InvalidStateError":
        return "This device already has a passkey for this account.";
      case "SecurityError":
        return "This page's address cannot use passkeys.";
      case "NotSupportedError":
        return "This browser or device has no passkey it can use here.";
      default:
        return what + " did not work in this browser.";
    }
  }

  function withID(list) {
    return list.map(function (c) {
      return Object.assign({}, c, { id: decode(c.id) });
    });
  }

  function requestOptions(pk) {
    const o = Object.assign({}, pk, { challenge: decode(pk.challenge) });
    if (Array.isArray(pk.allowCredentials)) {
      o.allowCredentials = withID(pk.allowCredentials);
    }
    return o;
  }

  function creationOptions(pk) {
    const o = Object.assign({}, pk, {
      challenge: decode(pk.challenge),
      user: Object.assign({}, pk.user, { id: decode(pk.user.id) }),
    });
    if (Array.isArray(pk.excludeCredentials)) {
      o.excludeCredentials = withID(pk.excludeCredentials);
    }
    return o;
  }

  function assertion(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: encode(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: encode(r.clientDataJSON),
        authenticatorData: encode(r.authenticatorData),
        signature: encode(r.signature),
        userHandle: r.userHandle ? encode(r.userHandle) : "",
      },
    };
  }

  function attestation(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: encode(cred.rawId),
      type: cred.type,
      response: {
        clientDataJSON: encode(r.clientDataJSON),
        attestationObject: encode(r.attestationObject),
        transports: typeof r.getTransports === "function" ? r.getTransports() : [],
      },
    };
  }

  function signInPage() {
    const box = document.getElementById("passkey-signin");
    const button = document.getElementById("passkey-button");
    let conditional = null; // { abort: AbortController, done: Promise }

    // signIn runs one ceremony: begin, the browser's prompt (or autofill,
    // for mediation "conditional"), finish. A failure before a passkey was
    // picked is quiet for the autofill (the person asked for nothing: a
    // browser may end a conditional request that has no passkey to offer),
    // shown for the button.
    async function signIn(mediation, signal) {
      let picked = false;
      try {
        const begun = await post(root.dataset.begin, pending(), signal);
        if (!begun) {
          return;
        }
        const opts = { publicKey: requestOptions(begun.publicKey) };
        if (mediation) {
          opts.mediation = mediation;
        }
        if (signal) {
          opts.signal = signal;
        }
        const cred = await navigator.credentials.get(opts);
        if (!cred) {
          throw new DOMException("no credential", "NotAllowedError");
        }
        picked = true;
        const body = Object.assign(pending(), { challenge: begun.publicKey.challenge }, assertion(cred));
        await post(root.dataset.finish, body);
      } catch (e) {
        if (picked || !mediation) {
          showError(message(e, "The passkey sign-in"));
        }
      }
    }

    // startConditional offers the passkeys in the username field's
    // autofill, where the browser can.
    async function startConditional() {
      const pkc = window.PublicKeyCredential;
      if (leaving || typeof pkc.isConditionalMediationAvailable !== "function") {
        return;
      }
      let available = false;
      try {
        available = await pkc.isConditionalMediationAvailable();
      } catch (e) {
        available = false;
      }
      if (!available || leaving || conditional) {
        return;
      }
      const run = { abort: new AbortController(), done: null };
      conditional = run;
      run.done = signIn("conditional", run.abort.signal).finally(function () {
        if (conditional === run) {
          conditional = null;
        }
      });
    }

    button.addEventListener("click", async function () {
      if (button.disabled || leaving) {
        return;
      }
      button.disabled = true;
      clearError();
      const run = conditional;
      if (run) {
        // One WebAuthn request at a time: end the autofill's first.
        conditional = null;
        run.abort.abort();
        await run.done;
      }
      await signIn("", null);
      button.disabled = false;
      if (!leaving) {
        startConditional();
      }
    });
    box.hidden = false;
    startConditional();
  }

  function registerPage() {
    const button = document.getElementById("add-passkey");
    button.addEventListener("click", async function () {
      if (button.disabled || leaving) {
        return;
      }
      button.disabled = true;
      clearError();
      try {
        const begun = await post(root.dataset.begin, pending());
        if (!begun) {
          return;
        }
        const cred = await navigator.credentials.create({ publicKey: creationOptions(begun.publicKey) });
        if (!cred) {
          throw new DOMException("no credential", "NotAllowedError");
        }
        const body = Object.assign(pending(), { challenge: begun.publicKey.challenge, credentialUUID: begun.credentialUUID }, attestation(cred));
        await post(root.dataset.finish, body);
      } catch (e) {
        showError(message(e, "Adding the passkey"));
      } finally {
        button.disabled = false;
      }
    });
    button.hidden = false;
  }

  if (root.dataset.passkey === "signin") {
    signInPage();
  } else if (root.dataset.passkey === "register") {
    registerPage();
  }
})();
