// Package grants holds Latchkey's token-endpoint handlers for fosite, one per
// grant type, each built per config snapshot by a core.GrantFactory.
package grants
