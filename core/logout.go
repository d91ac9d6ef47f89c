package core

import (
	"context"
	"crypto/subtle"
	"net/url"
	"slices"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey/config"
)

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2–3).

// LogoutPath is the end-session endpoint's path below the issuer.
const LogoutPath = "/oauth2/logout"

// Logout is a checked logout request: where to send the browser after the
// session ends ("" means show the signed-out page).
type Logout struct {
	Client      *Client // nil when the request named none
	RedirectURL string
}

// idTokenAlgs are the algorithms of our own signing keys.
var idTokenAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// CheckLogout checks a logout request's parameters: an id_token_hint must
// be an ID token this server signed (its expiry does not matter, §2), for
// the client_id when both are given; a post_logout_redirect_uri must be one
// of that client's (exact match), and needs the client to be known. It
// returns an *AuthorizeError (never redirectable) for a bad request. It
// reads nothing from the database.
func (c *Core) CheckLogout(_ context.Context, form url.Values) (*Logout, error) {
	var cl *Client
	if id := form.Get("client_id"); id != "" {
		if cl = c.clients[id]; cl == nil {
			return nil, notRedirectable("invalid_request", "The client_id is unknown.")
		}
	}
	if hint := form.Get("id_token_hint"); hint != "" {
		aud, ok := c.idTokenAudience(hint)
		switch {
		case !ok:
			return nil, notRedirectable("invalid_request", "The id_token_hint is not an ID token of this server.")
		case cl != nil && subtle.ConstantTimeCompare([]byte(aud), []byte(cl.ID)) != 1:
			return nil, notRedirectable("invalid_request", "The id_token_hint was issued to another client than client_id.")
		case cl == nil:
			if cl = c.clients[aud]; cl == nil {
				return nil, notRedirectable("invalid_request", "The id_token_hint's client is no longer configured.")
			}
		}
	}
	out := &Logout{Client: cl}
	if to := form.Get("post_logout_redirect_uri"); to != "" {
		if cl == nil {
			return nil, notRedirectable("invalid_request", "post_logout_redirect_uri needs client_id or id_token_hint.")
		}
		if !slices.Contains(cl.PostLogoutRedirectURIs, to) {
			return nil, notRedirectable("invalid_request", "The post_logout_redirect_uri is not one of the client's registered ones.")
		}
		out.RedirectURL = withParams(to, map[string]string{"state": form.Get("state")})
	}
	return out, nil
}

// idTokenAudience verifies an ID token signed by one of the snapshot's keys
// (by kid) for this issuer and returns its single audience.
func (c *Core) idTokenAudience(token string) (string, bool) {
	if len(token) > 16<<10 {
		return "", false
	}
	tok, err := jwt.ParseSigned(token, idTokenAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return "", false
	}
	var key *config.SigningKey
	for i, k := range c.snap.SigningKeys {
		if k.KID == tok.Headers[0].KeyID && string(mustAlg(k.Alg)) == tok.Headers[0].Algorithm {
			key = &c.snap.SigningKeys[i]
		}
	}
	if key == nil {
		return "", false
	}
	var claims struct {
		Issuer   string           `json:"iss"`
		Audience jwt.Audience     `json:"aud"`
		Nonce    *string          `json:"nonce"`
		AtHash   *string          `json:"at_hash"`
		Exp      *jwt.NumericDate `json:"exp"`
	}
	if err := tok.Claims(key.Key.Public(), &claims); err != nil {
		return "", false
	}
	// An access token is signed by the same keys: an ID token has at_hash
	// (every one this server issues does) and is not typed at+jwt.
	if claims.Issuer != c.snap.Issuer || len(claims.Audience) != 1 || claims.AtHash == nil || tok.Headers[0].ExtraHeaders["typ"] == "at+jwt" {
		return "", false
	}
	return claims.Audience[0], true
}

func mustAlg(alg string) jose.SignatureAlgorithm {
	a, _ := config.JOSEAlgorithm(alg)
	return a
}
