// Package authrocket reproduces AuthRocket 1's signup tokens (seed
// authrocket-signup-tokens): a signup flow stores what a person typed as a
// signup token (user_token on the wire) while its other steps are
// completed, then converts it into a user or discards it. Requests carry an
// API key of the config's api_keys in X-Authrocket-Api-Key, found by its
// SHA-256; the key's realm is the request's realm, and its permissions
// (read, write) are checked per route. Signup tokens belong to accounts:
// this package parses AuthRocket's wire format, calls accounts and words
// the answers as AuthRocket does, errors always as {"errors": ["…"]}.
package authrocket
