// Package oauth mounts the standard OAuth 2.0 endpoints — token (RFC 6749),
// introspection (RFC 7662), revocation (RFC 7009), userinfo, metadata (RFC
// 8414) and JWKS — as thin gin adapters around one snapshot's core. The
// server builds a handler per snapshot, so each request runs on the core
// that was current when it arrived and a reload never changes the rules
// halfway through a request.
package oauth
