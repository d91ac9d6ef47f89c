// Package login is the browser side of authorization code sign-in: the
// authorization endpoint (GET and POST /oauth2/authorize), the hosted login
// page and its form (POST /login), the consent page (POST /consent) for
// clients with consent: required or a prompt=consent request, RP-initiated
// logout (GET and POST /oauth2/logout), and the browser session cookie that
// gives single sign-on across the clients of a realm.
//
// In a realm with passkeys: true the login page also offers "Sign in with
// a passkey" (and the passkeys in the username field's autofill, where
// the browser has conditional mediation), and a password sign-in is
// followed by an offer to add a passkey (skippable): see passkeys.go. The
// ceremonies are accounts.Passkeys'; the ID token's amr tells a password
// sign-in (["pwd"]) from a passkey's (["hwk", "user"], or ["hwk"] when the
// authenticator did not verify the person).
//
// Every page is server-rendered with html/template from templates embedded
// in the binary, works without JavaScript (passkeys need it; the password
// form and Skip do not) and loads nothing from another host; each HTML
// answer carries no-store caching, X-Frame-Options: DENY, a
// Content-Security-Policy without inline script and with frame-ancestors
// 'none' (the passkey pages add script-src 'self' for the one embedded
// script, assets/passkeys.js, and connect-src 'self' for its JSON routes),
// and Referrer-Policy: no-referrer. The package is a surface on
// the core's operations: it parses, decides between the session, the login
// page and an error, and lets the core issue the code; it stores nothing
// and checks no password itself (the one password check, with lockout,
// is the core's).
package login
