package core

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
)

// ID tokens (OpenID Connect Core §2, §3.1.3.6): signed by the active key,
// or by the first key of the client's id_token_signed_response_alg; every
// signer is made once per snapshot.

// newIDSigners makes one ID-token signer per signing key, by kid.
func newIDSigners(snap *config.Snapshot) (map[string]jose.Signer, error) {
	out := make(map[string]jose.Signer, len(snap.SigningKeys))
	for _, k := range snap.SigningKeys {
		alg, err := config.JOSEAlgorithm(k.Alg)
		if err != nil {
			return nil, err
		}
		opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.KID)
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k.Key}, opts)
		if err != nil {
			return nil, fmt.Errorf("core: ID token signer %q: %w", k.KID, err)
		}
		out[k.KID] = s
	}
	return out, nil
}

// UserClaims are the OpenID Connect standard claims of u released for
// scopes (§5.4): the profile claims with profile, the e-mail with email.
func UserClaims(u *accounts.User, scopes []string) map[string]any {
	claims := map[string]any{}
	has := func(s string) bool { return fosite.Arguments(scopes).Has(s) }
	if has("profile") {
		for k, v := range map[string]string{"preferred_username": u.Username, "given_name": u.FirstName, "family_name": u.LastName} {
			if v != "" {
				claims[k] = v
			}
		}
		if name := strings.TrimSpace(u.FirstName + " " + u.LastName); name != "" {
			claims["name"] = name
		}
	}
	if has("email") && u.Email != "" {
		claims["email"] = u.Email
	}
	return claims
}

// idToken signs the ID token of a code exchange whose access token is
// accessToken. It reads the user (never inside a transaction).
func (c *Core) idToken(ctx context.Context, ar fosite.AccessRequester, cl *Client, accessToken string) (string, error) {
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return "", fosite.ErrServerError.WithDebug("unexpected session type")
	}
	key, ok := c.snap.SigningKeyFor(cl.IDTokenSignedResponseAlg)
	if !ok {
		return "", fosite.ErrServerError.WithDebugf("no signing key of alg %s", cl.IDTokenSignedResponseAlg)
	}
	user := sess.user
	if user == nil {
		var err error
		switch user, err = c.accounts.Get(ctx, sess.Realm, sess.Subject); {
		case errors.Is(err, accounts.ErrNotFound):
			return "", fosite.ErrInvalidGrant.WithHint("The user of the authorization code is no longer active.")
		case err != nil:
			return "", ServerError(err)
		}
	}
	claims := UserClaims(user, ar.GetGrantedScopes())
	claims["iss"] = c.snap.Issuer
	claims["sub"] = sess.Subject
	claims["aud"] = []string{cl.ID}
	claims["azp"] = cl.ID
	claims["iat"] = c.now().Unix()
	claims["exp"] = sess.GetExpiresAt(fosite.AccessToken).Unix()
	claims["auth_time"] = sess.AuthTime.Unix()
	claims["at_hash"] = tokenHash(key.Alg, accessToken)
	if sess.Nonce != "" {
		claims["nonce"] = sess.Nonce
	}
	if sess.SID != "" {
		claims["sid"] = sess.SID
	}
	if len(sess.AMR) > 0 {
		claims["amr"] = sess.AMR
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(err)
	}
	jws, err := c.idSigners[key.KID].Sign(payload)
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(fmt.Errorf("core: sign ID token: %w", err))
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(err)
	}
	return tok, nil
}

// tokenHash is at_hash (§3.1.3.6): the left half of the hash of the token,
// base64url; the hash is the one of the JWS alg — SHA-256 for ES256 and
// RS256, SHA-512 for EdDSA (as relying parties such as go-oidc compute it).
func tokenHash(alg, token string) string {
	var h hash.Hash = sha256.New()
	if alg == config.AlgEdDSA {
		h = sha512.New()
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// SignJWT signs claims as a JWT (typ JWT, header kid) with the first
// signing key of alg (ErrNoSigningKey when none is configured): the
// confirmation tokens surfaces hand out, such as a passkey transaction's.
func (c *Core) SignJWT(alg string, claims map[string]any) (string, error) {
	key, ok := c.snap.SigningKeyFor(alg)
	if !ok || alg == "" {
		return "", fmt.Errorf("%w: %s", ErrNoSigningKey, alg)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("core: encode claims: %w", err)
	}
	jws, err := c.idSigners[key.KID].Sign(payload)
	if err != nil {
		return "", fmt.Errorf("core: sign JWT: %w", err)
	}
	return jws.CompactSerialize()
}
