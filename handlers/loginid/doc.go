// Package loginid reproduces LoginID's management and authentication API
// for a customer's backend: the backend signs a fresh ES256 service token
// per request with its API credential's key, carrying the scopes the
// request needs and a nonce, and manages users, checks their passwords,
// lists, renames and revokes their credentials and issues them one-time
// codes here; the user tokens it gets back are the core's access tokens,
// signed ES256 with a kid and carrying LoginID's "udata" claim, so
// LoginID's own server SDKs verify them against GET /certs. In a realm
// with passkeys, the fido2 routes register users with passkeys, sign them
// in and add passkeys (by a one-time code or by force), and the /tx routes
// have a person confirm a text with a passkey, answered with an ES256 JWT
// of its hash; every ceremony runs through accounts.Passkeys, and its
// complete takes no token: the single-use challenge is the proof.
//
// Every route runs behind one guard, driven by one table of routes and
// scopes: a service token (verified by inbound, its nonce used up last, in
// the transaction that writes the request's effect) or a client_credentials
// access token of the core carrying the route's scope; a user's access
// token never authorizes. Errors are LoginID's {"code","message"}.
package loginid
