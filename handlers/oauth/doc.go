// Package oauth mounts the standard OAuth 2.0 endpoints — token (RFC 6749),
// introspection (RFC 7662), revocation (RFC 7009), metadata (RFC 8414) and
// JWKS — as thin gin adapters around the current core. Each request runs on
// the core that was current when it arrived, so a reload never changes the
// rules halfway through a request.
package oauth
