// Package servicetoken mints LoginID-style API service tokens for
// Latchkey, as LoginID's own server SDKs do: a compact JWS, header
// {"alg":"ES256","typ":"JWT"}, signed with an API credential's P-256 private
// key, carrying the credential's id (client_id), the scopes the request
// needs (type), a fresh 16-character nonce, iat, the username or user id
// the request acts on, and for a transaction (tx.create) the payload_hash
// of its payload. Sign a new token for every request: the server accepts
// each nonce once, for five minutes after iat.
package servicetoken
