// Package core is the one facade over the fosite provider: it adapts config
// clients to fosite, owns the session and token strategy (random opaque tokens
// and RFC 9068 JWT access tokens, every token keyed by the SHA-256 of its
// whole text), authenticates clients, and builds one provider per config
// snapshot. It knows nothing of HTTP frameworks.
package core
