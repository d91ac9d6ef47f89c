// Package login is the browser side of authorization code sign-in: the
// authorization endpoint (GET and POST /oauth2/authorize), the hosted login
// page and its form (POST /login), the consent page (POST /consent) for
// clients with consent: required or a prompt=consent request, RP-initiated
// logout (GET and POST /oauth2/logout), and the browser session cookie that
// gives single sign-on across the clients of a realm.
//
// Every page is server-rendered with html/template from templates embedded
// in the binary, needs no JavaScript and loads nothing from another host;
// each HTML answer carries no-store caching, X-Frame-Options: DENY, a
// Content-Security-Policy without inline script and with frame-ancestors
// 'none', and Referrer-Policy: no-referrer. The package is a surface on
// the core's operations: it parses, decides between the session, the login
// page and an error, and lets the core issue the code; it stores nothing
// and checks no password itself (the one password check, with lockout,
// is the core's).
package login
