// Package core is the operations API over the fosite provider of one config
// snapshot. Surfaces and grants call its operations — issue a token or a
// pair as a client for a user (Prepare/Save, Issue), refresh (Refresh, and
// PrepareRefresh/CompleteRefresh for the token endpoint's grant),
// authenticate a bearer token into a Principal, introspect, revoke a token,
// a grant or a user's tokens — and never reach its provider, store or
// accounts service, which are unexported. Each operation's doc comment
// states its transaction and single-use rules.
//
// A Core is built per snapshot by New (the one place the provider is
// composed) from process-lifetime Deps (store, accounts, clock). It also
// adapts config clients to fosite, owns the session and token strategy
// (random opaque tokens and RFC 9068 JWT access tokens, every token keyed
// by the SHA-256 of its whole text) and authenticates clients. It knows
// nothing of HTTP frameworks.
package core
