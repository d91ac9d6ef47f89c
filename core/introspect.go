package core

import (
	"context"
	"errors"
	"strings"

	"github.com/ory/fosite"
)

// TokenInfo describes an active token (RFC 7662 §2.2).
type TokenInfo struct {
	Use     fosite.TokenUse // fosite.AccessToken or fosite.RefreshToken
	Request fosite.Requester
	Session *Session
}

// ValidateToken looks a token up (access first, or refresh first when hint
// says so) and returns it if it is active: found, unexpired, its client still
// declared in this snapshot. An inactive token gives (nil, nil); only storage
// failures are errors.
func (c *Core) ValidateToken(ctx context.Context, token string, hint fosite.TokenUse) (*TokenInfo, error) {
	if token == "" {
		return nil, nil
	}
	if hint != fosite.RefreshToken {
		hint = fosite.AccessToken
	}
	sess := NewSession()
	use, ar, err := c.Provider.IntrospectToken(ctx, token, hint, sess)
	if err != nil {
		if isInactive(err) {
			return nil, nil
		}
		return nil, err
	}
	if c.clients[ar.GetClient().GetID()] == nil {
		return nil, nil // the client was removed from the config: its tokens die with it
	}
	s, ok := ar.GetSession().(*Session)
	if !ok {
		return nil, errors.New("core: stored session has an unexpected type")
	}
	return &TokenInfo{Use: use, Request: ar, Session: s}, nil
}

// isInactive tells "this token is not active" apart from a real failure.
func isInactive(err error) bool {
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) {
		return false
	}
	switch rfc.ErrorField {
	case fosite.ErrRequestUnauthorized.ErrorField, fosite.ErrTokenExpired.ErrorField,
		fosite.ErrInactiveToken.ErrorField, fosite.ErrNotFound.ErrorField, fosite.ErrInvalidRequest.ErrorField:
		return true
	}
	return false
}

// Introspect answers RFC 7662 for caller: the fields of an active token of
// the caller's realm, or nil (answered {"active":false}) for a token that is
// inactive, unknown or of another realm.
func (c *Core) Introspect(ctx context.Context, caller *Client, token, hint string) (map[string]any, error) {
	info, err := c.ValidateToken(ctx, token, fosite.TokenUse(hint))
	if err != nil || info == nil {
		return nil, err
	}
	owner := c.clients[info.Request.GetClient().GetID()]
	if owner.Realm != caller.Realm {
		return nil, nil
	}
	resp := map[string]any{
		"active":     true,
		"client_id":  owner.ID,
		"sub":        info.Session.Subject,
		"iss":        c.Snap.Issuer,
		"iat":        info.Request.GetRequestedAt().Unix(),
		"exp":        info.Session.GetExpiresAt(fosite.TokenType(info.Use)).Unix(),
		"token_use":  string(info.Use),
		"scope":      strings.Join(info.Request.GetGrantedScopes(), " "),
		"aud":        audienceOrIssuer(info.Request.GetGrantedAudience(), c.Snap.Issuer),
		"realm":      info.Session.Realm,
		"token_kind": info.Session.Kind,
	}
	if info.Use == fosite.AccessToken {
		resp["token_type"] = "Bearer"
	}
	if info.Session.Username != "" {
		resp["username"] = info.Session.Username
	}
	return resp, nil
}

func audienceOrIssuer(aud fosite.Arguments, issuer string) []string {
	if len(aud) == 0 {
		return []string{issuer}
	}
	return aud
}
