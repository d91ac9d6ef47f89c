package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// ServiceTokenKind is the single-use namespace of service-token nonces; the
// issuer within it is the API credential, so each credential has its own.
const ServiceTokenKind = storage.KindServiceToken

// ServiceTokenLifetime is how long a service token is accepted after its
// iat; an exp may only shorten it.
const ServiceTokenLifetime = 5 * time.Minute

// ForceAddScope is the scope of the forced credential add; ForceAddAlias is
// the name LoginID's server SDKs give it, accepted as the same scope.
const (
	ForceAddScope = "credentials.force"
	ForceAddAlias = "credentials.force_add"
)

// ErrScopeNotAllowed is returned by VerifyServiceToken for a token whose
// scopes go beyond its credential's configured ones: a well-signed token
// that asks for more than it may (403, not 401).
var ErrScopeNotAllowed = errors.New("inbound: scope not allowed")

// ServiceToken is a verified LoginID-style API service token: a JWT that a
// customer's backend signs per request with its API credential's P-256 key,
// carrying the scopes that request needs and a nonce.
type ServiceToken struct {
	token      *Token
	rules      Rules
	Credential *config.APICredential
	// Scopes are the token's scopes (from "scope" or "type"), the
	// ForceAddAlias written as ForceAddScope.
	Scopes []string
	// Username and UserID name the user the token acts on, when it does.
	Username, UserID string
	// PayloadHash is the claim payload_hash, when present: base64url
	// (unpadded) of the SHA-256 of the transaction payload the token
	// authorizes, as LoginID's SDKs sign a tx.create token. The surface
	// compares it with the payload the request sends.
	PayloadHash string
}

// payloadHashLength is the length of an unpadded base64url SHA-256.
const payloadHashLength = 43

// HasScope reports whether the token carries scope s.
func (t *ServiceToken) HasScope(s string) bool { return slices.Contains(t.Scopes, s) }

// VerifyServiceToken parses raw and checks it as a service token of one of
// snap's API credentials: ES256 only; the credential named by client_id
// (and by clientIDHeader, the request's X-Client-ID, when that is not
// empty: a mismatch is refused) must have signed it; iat is required and
// the token is accepted from iat − leeway to iat + ServiceTokenLifetime (an
// exp may shorten that; leeway applies at the end too); a nonce is
// required; scopes come from "scope" or "type" (space-separated; when both
// are present they must agree), and any beyond the credential's configured
// scopes wrap ErrScopeNotAllowed; payload_hash, when present, must be an
// unpadded base64url SHA-256. It writes nothing: call Consume, last.
// Other failures wrap ErrInvalid.
func VerifyServiceToken(raw string, snap *config.Snapshot, clientIDHeader string, now time.Time) (*ServiceToken, error) {
	tok, err := Parse(raw, 0)
	if err != nil {
		return nil, err
	}
	if tok.Header.Alg != config.AlgES256 {
		return nil, invalid("service tokens must be signed with ES256")
	}
	if tok.Header.Typ != "" && !strings.EqualFold(tok.Header.Typ, "JWT") {
		return nil, invalid(`header "typ" must be "JWT" when present`)
	}
	clientID, ok, err := stringClaim(tok, "client_id")
	switch {
	case err != nil:
		return nil, err
	case !ok || clientID == "":
		return nil, invalid(`claim "client_id" (the API credential's id) is required`)
	case clientIDHeader != "" && clientIDHeader != clientID:
		return nil, invalid(`the X-Client-ID header names another API credential than the token's "client_id"`)
	}
	cred := snap.APICredential(clientID)
	if cred == nil {
		return nil, invalid(`claim "client_id" names no configured API credential`)
	}
	scopes, err := serviceTokenScopes(tok)
	if err != nil {
		return nil, err
	}
	st := &ServiceToken{token: tok, Credential: cred, Scopes: scopes}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"username", &st.Username}, {"user_id", &st.UserID}} {
		v, ok, err := stringClaim(tok, f.name)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := checkID(v, `"`+f.name+`"`); err != nil {
				return nil, err
			}
			*f.dst = v
		}
	}
	if st.PayloadHash, err = payloadHash(tok); err != nil {
		return nil, err
	}
	st.rules = Rules{
		Kind:            ServiceTokenKind,
		Audiences:       []string{snap.Issuer},
		RequireIssuedAt: true,
		MaxLifetime:     ServiceTokenLifetime,
		DefaultLifetime: ServiceTokenLifetime,
		OnceClaim:       "nonce",
		Leeway:          snap.Tokens.Leeway,
	}
	if err := tok.Verify(cred.PublicKeys, st.rules, now); err != nil {
		return nil, err
	}
	for _, s := range scopes {
		if !slices.Contains(cred.Scopes, s) {
			return nil, &refusal{kind: ErrScopeNotAllowed, reason: "the token asks for scope " + quoteScope(s) + ", which its API credential does not have"}
		}
	}
	return st, nil
}

// Consume records the token's nonce as used for its credential (in the
// transaction in ctx, if any), atomically across replicas: of any number of
// concurrent requests with one token exactly one gets through. A replay
// wraps ErrReplayed.
func (t *ServiceToken) Consume(ctx context.Context, once OnceRecorder) error {
	return t.token.Consume(ctx, t.Credential.ID, t.rules, once)
}

// payloadHash reads the claim payload_hash: absent, or the unpadded
// base64url of 32 bytes (a SHA-256).
func payloadHash(tok *Token) (string, error) {
	v, ok, err := stringClaim(tok, "payload_hash")
	if err != nil || !ok {
		return "", err
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(v); err != nil || len(v) != payloadHashLength || len(b) != sha256.Size {
		return "", invalid(`claim "payload_hash" must be the unpadded base64url of the payload's SHA-256 (%d characters)`, payloadHashLength)
	}
	return v, nil
}

// serviceTokenScopes reads "scope" and "type": each a space-separated list
// of scope names; when both are present they must name the same scopes.
func serviceTokenScopes(tok *Token) ([]string, error) {
	var lists [][]string
	for _, name := range []string{"scope", "type"} {
		v, ok, err := stringClaim(tok, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var list []string
		for _, s := range strings.Fields(v) {
			if s == ForceAddAlias {
				s = ForceAddScope
			}
			if len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool { return r < '!' || r > '~' }) {
				return nil, invalid("claim %q holds a scope that is not a scope name", name)
			}
			if !slices.Contains(list, s) {
				list = append(list, s)
			}
		}
		slices.Sort(list)
		lists = append(lists, list)
	}
	switch {
	case len(lists) == 0:
		return nil, nil
	case len(lists) == 2 && !slices.Equal(lists[0], lists[1]):
		return nil, invalid(`claims "scope" and "type" disagree`)
	}
	return lists[0], nil
}

// quoteScope quotes a scope name that serviceTokenScopes accepted (printable
// ASCII, at most 64 characters), so it is safe to repeat back.
func quoteScope(s string) string { return `"` + s + `"` }
