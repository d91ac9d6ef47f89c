package core

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
)

// Client_credentials JWT access tokens have no row. Such a token speaks for
// its client only, so what can end it before its exp is known without one:
// a revocation (RFC 7009), recorded in revoked_tokens under the SHA-256 of
// its jti (not of the token: the same JWT has other encodings that verify,
// see storage.RevokeTokenID) and read by every introspection, and the removal of its client
// or of its signing key from the config (this snapshot no longer knows
// them). Issuing one writes nothing; checking one is its JWT signature —
// verified once per token and process, then remembered — plus one
// primary-key read of revoked_tokens. Every other token keeps its row.

// rowlessJTIPrefix starts the jti of every access token issued without a
// row. The random jti of a token with a row is base64url, which has no '.',
// so the two never collide, and a token issued before rowless tokens existed
// is still looked up by its row.
const rowlessJTIPrefix = "c."

// maxRowlessToken bounds the size of a token that is parsed as a rowless
// JWT; ours are well under 1 KiB.
const maxRowlessToken = 4096

// verifiedCacheSize bounds the verified-token cache (entries of a few
// hundred bytes: a few MiB at most).
const verifiedCacheSize = 16384

// rowless reports whether r's access token is issued without a row: a JWT
// of a client_credentials request.
func (s *TokenStrategy) rowless(r fosite.Requester) bool {
	sess, ok := r.GetSession().(*Session)
	return ok && sess.Kind == KindClient && s.format != config.FormatOpaque
}

// verifyKey is a signing key's public half with its pinned algorithm.
type verifyKey struct {
	alg jose.SignatureAlgorithm
	key crypto.PublicKey
}

// tokenVerifier checks the rowless tokens of one snapshot: signed by one
// of its signing keys (by kid, with that key's algorithm only), typ
// at+jwt, iss its issuer, a rowless jti, sub the client_id. Verified
// claims are cached by token signature, so a token is verified once.
type tokenVerifier struct {
	issuer string
	now    func() time.Time
	keys   map[string]verifyKey
	algs   []jose.SignatureAlgorithm

	mu       sync.RWMutex
	verified map[string]*accessClaims
}

func newTokenVerifier(snap *config.Snapshot, now func() time.Time) (*tokenVerifier, error) {
	v := &tokenVerifier{
		issuer:   snap.Issuer,
		now:      now,
		keys:     make(map[string]verifyKey, len(snap.SigningKeys)),
		verified: make(map[string]*accessClaims),
	}
	seen := map[jose.SignatureAlgorithm]bool{}
	for _, k := range snap.SigningKeys {
		alg, err := config.JOSEAlgorithm(k.Alg)
		if err != nil {
			return nil, fmt.Errorf("core: signing key %q: %w", k.KID, err)
		}
		v.keys[k.KID] = verifyKey{alg: alg, key: k.Key.Public()}
		if !seen[alg] {
			seen[alg] = true
			v.algs = append(v.algs, alg)
		}
	}
	return v, nil
}

// claims returns the verified claims of token, whose signature is sig, if
// it is a rowless token of this snapshot's issuer and keys, else nil. It
// does not look at expiry or revocation. Only a token whose unverified jti
// says rowless is verified, so other JWTs cost one parse, not a signature
// check.
func (v *tokenVerifier) claims(token, sig string) *accessClaims {
	v.mu.RLock()
	c := v.verified[sig]
	v.mu.RUnlock()
	if c != nil {
		return c
	}
	if len(token) > maxRowlessToken || strings.HasPrefix(token, "lk_") || !hasRowlessJTI(token) {
		return nil
	}
	jws, err := jose.ParseSignedCompact(token, v.algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil
	}
	h := jws.Signatures[0].Header
	key, ok := v.keys[h.KeyID]
	if !ok || h.Algorithm != string(key.alg) || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		return nil
	}
	payload, err := jws.Verify(key.key)
	if err != nil {
		return nil
	}
	c = new(accessClaims)
	if json.Unmarshal(payload, c) != nil || c.Issuer != v.issuer || !strings.HasPrefix(c.JTI, rowlessJTIPrefix) ||
		c.ClientID == "" || c.Subject != c.ClientID || c.ExpiresAt <= 0 {
		return nil
	}
	v.remember(sig, c)
	return c
}

// hasRowlessJTI reports whether the unverified payload of a compact JWS
// carries a rowless jti: a cheap look (one base64 decode, one small JSON
// decode) that keeps every other token — user JWTs on the hot path of every
// surface — from a full parse here.
func hasRowlessJTI(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var peek struct {
		JTI string `json:"jti"`
	}
	return json.Unmarshal(payload, &peek) == nil && strings.HasPrefix(peek.JTI, rowlessJTIPrefix)
}

// remember caches c; a full cache first drops the expired entries, and is
// emptied if that frees nothing (a flood of valid tokens costs their
// signature checks again, never unbounded memory).
func (v *tokenVerifier) remember(sig string, c *accessClaims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.verified) >= verifiedCacheSize {
		now := v.now().Unix()
		for k, e := range v.verified {
			if e.ExpiresAt <= now {
				delete(v.verified, k)
			}
		}
		if len(v.verified) >= verifiedCacheSize {
			clear(v.verified)
		}
	}
	v.verified[sig] = c
}

// rowlessToken returns what introspection needs of an active rowless token:
// (nil, nil) when token is not one, or is expired, revoked, or of a client
// this snapshot no longer declares; a storage failure is ErrUnavailable.
// ok tells whether token was a rowless token at all (active or not), so
// that the caller does not look for a row it cannot have.
func (c *Core) rowlessToken(ctx context.Context, token, sig string) (info *tokenInfo, ok bool, err error) {
	claims := c.verifier.claims(token, sig)
	if claims == nil {
		return nil, false, nil
	}
	exp := time.Unix(claims.ExpiresAt, 0).UTC()
	client := c.clients[claims.ClientID]
	if client == nil || !c.now().Before(exp) {
		return nil, true, nil
	}
	revoked, err := c.store.TokenRevoked(ctx, Signature(claims.JTI))
	if err != nil {
		return nil, true, unavailable("read token revocation", err)
	}
	if revoked {
		return nil, true, nil
	}
	sess := &Session{Subject: claims.Subject, Kind: KindClient, Realm: client.Realm}
	sess.SetExpiresAt(fosite.AccessToken, exp)
	req := fosite.NewRequest()
	req.ID = claims.JTI
	req.RequestedAt = time.Unix(claims.IssuedAt, 0).UTC()
	req.Client = client
	req.Session = sess
	if claims.Scope != "" {
		req.GrantedScope = strings.Split(claims.Scope, " ")
	}
	if len(claims.Audience) != 1 || claims.Audience[0] != c.snap.Issuer {
		req.GrantedAudience = slices.Clone(claims.Audience) // the cached claims stay untouched
	}
	return &tokenInfo{use: fosite.AccessToken, request: req, session: sess}, true, nil
}

// revokeRowless records the revocation of a rowless token for caller, if
// it is caller's and has not expired; ok tells whether token was a rowless
// token at all.
func (c *Core) revokeRowless(ctx context.Context, caller *Client, token, sig string) (ok bool, err error) {
	claims := c.verifier.claims(token, sig)
	if claims == nil {
		return false, nil
	}
	exp := time.Unix(claims.ExpiresAt, 0).UTC()
	if claims.ClientID != caller.ID || !c.now().Before(exp) {
		return true, nil
	}
	if err := c.store.RevokeTokenID(ctx, Signature(claims.JTI), exp); err != nil {
		return true, unavailable("revoke token", err)
	}
	return true, nil
}
