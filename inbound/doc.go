// Package inbound is the one verifier for every JWT that comes from outside
// (client assertions now; APTs and service tokens in the surfaces). Each
// surface passes its keys and Rules; the rules themselves live here once:
// algorithm allow-list per key with typed keys (never "none", never HMAC),
// refusal of key-bearing headers (jku, x5u, jwk, x5c) and crit, a size cap,
// duplicate-claim detection, exp/nbf/iat with leeway, a maximum lifetime,
// audience, and single-use jti recorded atomically in the database last.
package inbound
