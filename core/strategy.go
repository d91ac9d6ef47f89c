package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/latchkey/latchkey/config"
)

// Token prefixes of the opaque tokens Latchkey issues.
const (
	AccessTokenPrefix  = "lk_at_"
	RefreshTokenPrefix = "lk_rt_"
)

// TokenStrategy generates tokens for fosite: opaque tokens are a prefix and
// 32 random bytes; JWT access tokens follow RFC 9068 and are signed by the
// snapshot's active key. Every token's signature (its storage key) is the
// SHA-256 of the whole token, so a stored row is the proof that a token is
// authentic, and no server secret is needed: every replica and every restart
// accepts every token. The exception is a client_credentials JWT, which has
// no row: its JWT signature is the proof (rowless.go).
type TokenStrategy struct {
	issuer string
	format string
	kid    string
	signer jose.Signer
	now    func() time.Time
}

var _ oauth2.CoreStrategy = (*TokenStrategy)(nil)

// NewTokenStrategy builds the strategy for one snapshot; the signer is made
// once here, not per request.
func NewTokenStrategy(snap *config.Snapshot, now func() time.Time) (*TokenStrategy, error) {
	key := snap.ActiveSigningKey()
	alg, err := config.JOSEAlgorithm(key.Alg)
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader(jose.HeaderKey("kid"), key.KID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key.Key}, opts)
	if err != nil {
		return nil, fmt.Errorf("core: signing key %q: %w", key.KID, err)
	}
	return &TokenStrategy{issuer: snap.Issuer, format: snap.Tokens.AccessTokenFormat, kid: key.KID, signer: signer, now: now}, nil
}

// Signature returns the storage key of a token: hex SHA-256 of the whole token.
func Signature(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func randomToken(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("core: random token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// accessClaims are the RFC 9068 §2.2 claims of a JWT access token.
type accessClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	JTI       string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	ExpiresAt int64    `json:"exp"`
	// UData is LoginID's user-data claim (the username, possibly ""),
	// present only on tokens a surface asked to carry it.
	UData *string `json:"udata,omitempty"`
}

// AccessTokenSignature returns the storage key of an access token.
func (s *TokenStrategy) AccessTokenSignature(_ context.Context, token string) string {
	return Signature(token)
}

// GenerateAccessToken issues an opaque token or an RFC 9068 JWT.
func (s *TokenStrategy) GenerateAccessToken(_ context.Context, r fosite.Requester) (string, string, error) {
	if s.format == config.FormatOpaque {
		tok, err := randomToken(AccessTokenPrefix)
		if err != nil {
			return "", "", fosite.ErrServerError.WithWrap(err)
		}
		return tok, Signature(tok), nil
	}
	jti, err := randomToken("")
	if err != nil {
		return "", "", fosite.ErrServerError.WithWrap(err)
	}
	if s.rowless(r) {
		jti = rowlessJTIPrefix + jti
	}
	aud := []string(r.GetGrantedAudience())
	if len(aud) == 0 {
		aud = []string{s.issuer}
	}
	exp := r.GetSession().GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		return "", "", fosite.ErrServerError.WithDebug("access token expiry not set by the grant handler")
	}
	var udata *string
	if sess, ok := r.GetSession().(*Session); ok {
		udata = sess.UData
	}
	payload, err := json.Marshal(accessClaims{
		UData:     udata,
		Issuer:    s.issuer,
		Subject:   r.GetSession().GetSubject(),
		Audience:  aud,
		ClientID:  r.GetClient().GetID(),
		Scope:     strings.Join(r.GetGrantedScopes(), " "),
		JTI:       jti,
		IssuedAt:  s.now().Unix(),
		ExpiresAt: exp.Unix(),
	})
	if err != nil {
		return "", "", fosite.ErrServerError.WithWrap(err)
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return "", "", fosite.ErrServerError.WithWrap(fmt.Errorf("core: sign access token: %w", err))
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", "", fosite.ErrServerError.WithWrap(err)
	}
	return tok, Signature(tok), nil
}

// ValidateAccessToken checks the expiry of a token whose row was found by its
// signature; finding the row already proved the token authentic.
func (s *TokenStrategy) ValidateAccessToken(_ context.Context, r fosite.Requester, _ string) error {
	return s.checkExpiry(r, fosite.AccessToken)
}

// RefreshTokenSignature returns the storage key of a refresh token.
func (s *TokenStrategy) RefreshTokenSignature(_ context.Context, token string) string {
	return Signature(token)
}

// GenerateRefreshToken issues an opaque refresh token.
func (s *TokenStrategy) GenerateRefreshToken(_ context.Context, _ fosite.Requester) (string, string, error) {
	tok, err := randomToken(RefreshTokenPrefix)
	if err != nil {
		return "", "", fosite.ErrServerError.WithWrap(err)
	}
	return tok, Signature(tok), nil
}

// ValidateRefreshToken checks the expiry of a refresh token whose row was found.
func (s *TokenStrategy) ValidateRefreshToken(_ context.Context, r fosite.Requester, _ string) error {
	return s.checkExpiry(r, fosite.RefreshToken)
}

func (s *TokenStrategy) checkExpiry(r fosite.Requester, tt fosite.TokenType) error {
	exp := r.GetSession().GetExpiresAt(tt)
	if exp.IsZero() || !s.now().Before(exp) {
		return fosite.ErrTokenExpired.WithHintf("%s expired at %s.", tt, exp.Format(time.RFC3339))
	}
	return nil
}

// AuthorizeCodePrefix starts every authorization code Latchkey issues.
const AuthorizeCodePrefix = "lk_ac_"

// AuthorizeCodeSignature returns the storage key of an authorization code.
func (s *TokenStrategy) AuthorizeCodeSignature(_ context.Context, token string) string {
	return Signature(token)
}

// GenerateAuthorizeCode issues a random code (32 bytes); only its
// signature is stored.
func (s *TokenStrategy) GenerateAuthorizeCode(context.Context, fosite.Requester) (string, string, error) {
	tok, err := randomToken(AuthorizeCodePrefix)
	if err != nil {
		return "", "", fosite.ErrServerError.WithWrap(err)
	}
	return tok, Signature(tok), nil
}

// ValidateAuthorizeCode checks the expiry of a code whose row was found.
func (s *TokenStrategy) ValidateAuthorizeCode(_ context.Context, r fosite.Requester, _ string) error {
	return s.checkExpiry(r, fosite.AuthorizeCode)
}
