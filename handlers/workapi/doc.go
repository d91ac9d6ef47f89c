// Package workapi reproduces the Work API's account-provider routes (SPEC
// §4, seed workapi-account-provider-token): an account provider's backend
// signs short JWTs (APTs) with its environment's private key to create users
// and re-authenticate them; its apps then hold only user tokens, which they
// renew at /users/me. Each route verifies its credential once (through
// inbound) and asks core to issue; tokens are the core's access tokens.
package workapi
