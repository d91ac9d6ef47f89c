package core

import (
	"context"
	"errors"

	"github.com/ory/fosite"
)

// RevokeToken revokes, for caller, the grant of a presented token (RFC
// 7009): revoking either token of a grant — an access token, a live refresh
// token, or one already rotated — ends every token of the grant, in one
// transaction; a client_credentials JWT (a grant of its own, without a row)
// is recorded as revoked. A token that is unknown, expired or another client's is left
// alone and is not an error (RFC 7009 §2.2 lets the caller learn nothing).
// A storage failure is ErrUnavailable. fosite's revocation handler is not
// used: it skips a rotated refresh token, leaving its grant alive.
func (c *Core) RevokeToken(ctx context.Context, caller *Client, token, hint string) error {
	if token == "" {
		return nil
	}
	sig := Signature(token)
	if rowless, err := c.revokeRowless(ctx, caller, token, sig); rowless || err != nil {
		return err
	}
	lookups := []func() (fosite.Requester, error){
		func() (fosite.Requester, error) { return c.store.GetAccessTokenSession(ctx, sig, nil) },
		func() (fosite.Requester, error) { return c.store.GetRefreshTokenSession(ctx, sig, nil) },
	}
	if hint == string(fosite.RefreshToken) {
		lookups[0], lookups[1] = lookups[1], lookups[0]
	}
	for _, lookup := range lookups {
		req, err := lookup()
		switch {
		case errors.Is(err, fosite.ErrNotFound):
			continue
		case err != nil && !errors.Is(err, fosite.ErrInactiveToken):
			return unavailable("look up token to revoke", err)
		}
		if req.GetClient().GetID() != caller.ID {
			return nil
		}
		return c.RevokeGrant(ctx, req.GetID())
	}
	return nil
}

// RevokeGrant ends every token of the grant grantID at once, in one
// transaction (the one in ctx, if any): access tokens are deleted, refresh
// tokens deactivated (kept until they expire, so a later use is recognised
// as reuse). A storage failure is ErrUnavailable.
func (c *Core) RevokeGrant(ctx context.Context, grantID string) error {
	if err := c.store.RevokeGrant(ctx, grantID); err != nil {
		return unavailable("revoke grant", err)
	}
	return nil
}

// RevokeUser ends every grant of the user userID, in one transaction (the
// one in ctx, if any). A storage failure is ErrUnavailable.
func (c *Core) RevokeUser(ctx context.Context, userID string) error {
	if err := c.store.RevokeSubject(ctx, userID); err != nil {
		return unavailable("revoke the user's tokens", err)
	}
	return nil
}
