package core

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
)

// tokenInfo describes an active token (RFC 7662 §2.2).
type tokenInfo struct {
	use     fosite.TokenUse // fosite.AccessToken or fosite.RefreshToken
	request fosite.Requester
	session *Session
}

// validateToken returns a token if it is active: a rowless client token
// (rowless.go), or one looked up through the provider (access first, or
// refresh first when hint says so) that is found, unexpired, and of a
// client still declared in this snapshot. An inactive token gives (nil,
// nil); a storage failure is ErrUnavailable, never "inactive".
func (c *Core) validateToken(ctx context.Context, token string, hint fosite.TokenUse) (*tokenInfo, error) {
	if token == "" {
		return nil, nil
	}
	if info, rowless, err := c.rowlessToken(ctx, token, Signature(token)); rowless || err != nil {
		return info, err
	}
	if hint != fosite.RefreshToken {
		hint = fosite.AccessToken
	}
	use, ar, err := c.provider.IntrospectToken(ctx, token, hint, NewSession())
	if err != nil {
		if isInactive(err) {
			return nil, nil
		}
		return nil, unavailable("look up token", err)
	}
	if c.clients[ar.GetClient().GetID()] == nil {
		return nil, nil // the client was removed from the config: its tokens die with it
	}
	s, ok := ar.GetSession().(*Session)
	if !ok {
		return nil, errors.New("core: stored session has an unexpected type")
	}
	return &tokenInfo{use: use, request: ar, session: s}, nil
}

// isInactive tells "this token is not active" apart from a real failure.
// fosite wraps every storage error of a lookup in request_unauthorized, so
// the cause decides: not found, inactive or expired is an inactive token;
// request_unauthorized with no cause means no strategy knew the token;
// anything else (a database that does not answer) is a failure.
func isInactive(err error) bool {
	if errors.Is(err, fosite.ErrNotFound) || errors.Is(err, fosite.ErrInactiveToken) || errors.Is(err, fosite.ErrTokenExpired) {
		return true
	}
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) {
		return false
	}
	switch rfc.ErrorField {
	case fosite.ErrTokenExpired.ErrorField, fosite.ErrInactiveToken.ErrorField, fosite.ErrNotFound.ErrorField:
		return true
	case fosite.ErrRequestUnauthorized.ErrorField:
		return rfc.Cause() == nil
	}
	return false
}

// Introspect answers RFC 7662 for caller: the fields of an active token of
// the caller's realm, or nil (answered {"active":false}) for a token that is
// inactive, unknown or of another realm. A storage failure is
// ErrUnavailable. It reads only.
func (c *Core) Introspect(ctx context.Context, caller *Client, token, hint string) (map[string]any, error) {
	info, err := c.validateToken(ctx, token, fosite.TokenUse(hint))
	if err != nil || info == nil {
		return nil, err
	}
	owner := c.clients[info.request.GetClient().GetID()]
	if owner.Realm != caller.Realm {
		return nil, nil
	}
	resp := map[string]any{
		"active":     true,
		"client_id":  owner.ID,
		"sub":        info.session.Subject,
		"iss":        c.snap.Issuer,
		"iat":        info.request.GetRequestedAt().Unix(),
		"exp":        info.session.GetExpiresAt(fosite.TokenType(info.use)).Unix(),
		"token_use":  string(info.use),
		"scope":      strings.Join(info.request.GetGrantedScopes(), " "),
		"aud":        audienceOrIssuer(info.request.GetGrantedAudience(), c.snap.Issuer),
		"realm":      info.session.Realm,
		"token_kind": info.session.Kind,
	}
	if info.use == fosite.AccessToken {
		resp["token_type"] = "Bearer"
	}
	if info.session.Username != "" {
		resp["username"] = info.session.Username
	}
	return resp, nil
}

func audienceOrIssuer(aud fosite.Arguments, issuer string) []string {
	if len(aud) == 0 {
		return []string{issuer}
	}
	return aud
}

// Principal is who a presented bearer token speaks for.
type Principal struct {
	// Kind is KindUser or KindClient.
	Kind string
	// Client is the client the token was issued to (of this snapshot).
	Client *Client
	// Realm is the token's realm (its client's).
	Realm string
	// User is the token's user, read when the token was authenticated and
	// active then; nil for a client_credentials token.
	User *accounts.User
	// GrantID identifies the token's grant (stable across refreshes).
	GrantID string
	// GrantedAt is the grant's first issuance.
	GrantedAt time.Time
	// ExpiresAt is the access token's expiry.
	ExpiresAt time.Time
	// Scopes and Audience are what the token was granted.
	Scopes   []string
	Audience []string
	// Environment is the Work API environment of a user token issued for
	// one, else "".
	Environment string
}

// Subject is the token's sub: the user's id, or the client id.
func (p *Principal) Subject() string {
	if p.User != nil {
		return p.User.ID
	}
	return p.Client.ID
}

// HasScope reports whether the token was granted scope s.
func (p *Principal) HasScope(s string) bool {
	for _, g := range p.Scopes {
		if g == s {
			return true
		}
	}
	return false
}

// Authenticate turns a presented bearer access token into its principal:
// the token must be an active access token (found, unexpired, unrevoked, of
// a client still declared) and, for a user token, its user must exist and be
// active. Anything else is ErrUnauthenticated; a storage failure is
// ErrUnavailable. It reads only.
func (c *Core) Authenticate(ctx context.Context, token string) (*Principal, error) {
	info, err := c.validateToken(ctx, token, fosite.AccessToken)
	if err != nil {
		return nil, err
	}
	if info == nil || info.use != fosite.AccessToken {
		return nil, ErrUnauthenticated
	}
	p := &Principal{
		Kind:        info.session.Kind,
		Client:      c.clients[info.request.GetClient().GetID()],
		Realm:       info.session.Realm,
		GrantID:     info.request.GetID(),
		GrantedAt:   info.request.GetRequestedAt(),
		ExpiresAt:   info.session.GetExpiresAt(fosite.AccessToken),
		Scopes:      info.request.GetGrantedScopes(),
		Audience:    info.request.GetGrantedAudience(),
		Environment: info.session.Environment,
	}
	if p.Kind != KindUser {
		return p, nil
	}
	user, err := c.accounts.Get(ctx, info.session.Realm, info.session.Subject)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		return nil, ErrUnauthenticated
	case err != nil:
		return nil, unavailable("read the token's user", err)
	case user.Status != accounts.StatusActive:
		return nil, ErrUnauthenticated
	}
	p.User = user
	return p, nil
}
