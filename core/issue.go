package core

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

// Tokens are freshly generated tokens for one request, not yet stored.
// Generating (signing a JWT, encoding the session) is done before any
// transaction begins, so a database write lock is never held across it.
type Tokens struct {
	ar                  fosite.AccessRequester
	stored              fosite.Requester
	access, accessSig   string
	refresh, refreshSig string
}

// GenerateTokens makes an access token and, when withRefresh, a refresh
// token for ar, whose session expiries must be set.
func (c *Core) GenerateTokens(ctx context.Context, ar fosite.AccessRequester, withRefresh bool) (*Tokens, error) {
	t := &Tokens{ar: ar, stored: ar.Sanitize(nil)}
	var err error
	if t.access, t.accessSig, err = c.Strategy.GenerateAccessToken(ctx, ar); err != nil {
		return nil, err
	}
	if withRefresh {
		if t.refresh, t.refreshSig, err = c.Strategy.GenerateRefreshToken(ctx, ar); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// StoreTokens writes the tokens' rows: with a refresh token both in one
// transaction (the one in ctx, or a new one), so a failure leaves neither.
func (c *Core) StoreTokens(ctx context.Context, t *Tokens) error {
	if t.refresh == "" {
		return c.Store.CreateAccessTokenSession(ctx, t.accessSig, t.stored)
	}
	return c.Store.InTx(ctx, func(ctx context.Context) error {
		if err := c.Store.CreateAccessTokenSession(ctx, t.accessSig, t.stored); err != nil {
			return err
		}
		return c.Store.CreateRefreshTokenSession(ctx, t.refreshSig, t.accessSig, t.stored)
	})
}

// RotateAndStoreTokens stores t, a refresh's new pair, and marks the
// presented refresh token oldSignature used, atomically: if it was no
// longer active nothing is stored and the error wraps
// fosite.ErrInactiveToken.
func (c *Core) RotateAndStoreTokens(ctx context.Context, oldSignature string, t *Tokens) error {
	return c.Store.RotateAndCreate(ctx, t.ar.GetID(), oldSignature, t.accessSig, t.refreshSig, t.stored)
}

// Respond puts the tokens into resp (RFC 6749 §5.1).
func (t *Tokens) Respond(resp fosite.AccessResponder) {
	resp.SetAccessToken(t.access)
	resp.SetTokenType("bearer")
	resp.SetExpiresIn(time.Until(t.ar.GetSession().GetExpiresAt(fosite.AccessToken)).Round(time.Second))
	resp.SetScopes(t.ar.GetGrantedScopes())
	if t.refresh != "" {
		resp.SetExtra("refresh_token", t.refresh)
	}
}

// IssueTokens generates, stores and returns in resp an access token and,
// when withRefresh, a refresh token for ar.
func (c *Core) IssueTokens(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder, withRefresh bool) error {
	t, err := c.GenerateTokens(ctx, ar, withRefresh)
	if err != nil {
		return err
	}
	if err := c.StoreTokens(ctx, t); err != nil {
		return ServerError(err)
	}
	t.Respond(resp)
	return nil
}

// SetLifetimes sets the session's access token expiry and, when
// withRefresh, its refresh token expiry, from the client's lifetimes (or the
// defaults), starting now.
func (c *Core) SetLifetimes(sess fosite.Session, cl *Client, grant fosite.GrantType, withRefresh bool) {
	now := c.now()
	at := fosite.GetEffectiveLifespan(cl, grant, fosite.AccessToken, c.Snap.Tokens.AccessTokenTTL)
	sess.SetExpiresAt(fosite.AccessToken, now.Add(at).Truncate(time.Second))
	if withRefresh {
		rt := fosite.GetEffectiveLifespan(cl, grant, fosite.RefreshToken, c.Snap.Tokens.RefreshTokenTTL)
		sess.SetExpiresAt(fosite.RefreshToken, now.Add(rt).Truncate(time.Second))
	}
}
