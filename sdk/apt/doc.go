// Package apt mints Account Provider Tokens (APTs) for Latchkey's Work API
// surface: the Go equivalent of the Work API Ruby SDK's AptGenerator.
//
// An account provider — a customer's backend that holds an environment's
// private key — signs a short-lived APT for one user and presents it as
// "Authorization: Bearer <APT>" to POST /workapi/users (create the user) or
// POST /workapi/users/reauth (a new user token), or as the assertion of the
// RFC 7523 jwt-bearer grant on /oauth2/token. Client apps then hold only the
// user token. Keep the private key on the backend: anyone who has it can
// sign in as any user of the environment.
//
// An APT is a compact JWS (go-jose v4). Its header is {"alg":…}, plus "kid"
// when Generator.KeyID is set; its claims are, in this order, exp, iat,
// environment_guid, arbitrary_id, jti, and aud when Generator.Audience is
// set:
//
//	{"exp":1767225660,"iat":1767225600,"environment_guid":"123456-1234-5678-12345679",
//	 "arbitrary_id":"user_xyz123","jti":"3q2-7wT1k8CqEoXv0dWJ9g"}
//
// Unlike the Ruby SDK, this package always sets a random jti, so the server
// accepts each APT once; an APT without jti could be replayed until its exp.
// The algorithm follows the key: RS256 for RSA (2048 bits or more), ES256 for
// P-256 and EdDSA for Ed25519; any other key is refused with
// ErrUnsupportedKey.
//
// The package depends on the standard library and go-jose only, so that an
// account provider's backend can import it without the server's packages.
package apt
