package core

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// The refresh rules (RFC 6749 §6, RFC 9700 §4.14.2) live here so that the
// token endpoint's refresh_token grant and every surface's refresh (the
// legacy /users/token/refresh) apply the same ones. fosite's own refresh
// handler reads the token outside the transaction and lets concurrent
// refreshes of one token fork the grant; ours does not.
//
// Every refresh returns a new refresh token and marks the presented one used
// by a conditional UPDATE in the transaction that stores the new pair, so of
// N concurrent refreshes of one token exactly one wins. Presenting a used
// token is reuse: the whole grant is revoked and the answer is invalid_grant
// (the race's losers too, which also revokes the winner's new pair). With
// tokens.refresh_grace > 0, a re-presentation by the same client within the
// window instead gets a new pair and ends the pair issued before it, so the
// grant never has two live refresh tokens. The user must be active, checked
// inside the rotation transaction (under a shared lock of the user row on
// MySQL), so a deactivation racing a refresh never leaves a new token alive.
// The previous access token stays valid until its exp.

var errGrantGone = fosite.ErrInvalidGrant.WithHint("The refresh token is invalid, expired, revoked or was already used.")

// PrepareRefresh validates a refresh request (RFC 6749 §6): the token
// exists, belongs to the request's client, has not expired and asks for no
// scope beyond the original grant (the user's status is checked by
// CompleteRefresh, inside the rotation's transaction). It prepares
// ar as a continuation of the grant (same grant id and subject). Whether the
// token is unused is decided atomically in CompleteRefresh. It reads only.
func (c *Core) PrepareRefresh(ctx context.Context, ar fosite.AccessRequester) error {
	cl, ok := ar.GetClient().(*Client)
	if !ok || !cl.HasGrant(config.GrantRefreshToken) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the refresh_token grant.")
	}
	token := ar.GetRequestForm().Get("refresh_token")
	if token == "" {
		return fosite.ErrInvalidRequest.WithHint("The refresh_token parameter is missing.")
	}
	stored := NewSession()
	orig, err := c.store.GetRefreshTokenSession(ctx, Signature(token), stored)
	switch {
	case errors.Is(err, fosite.ErrNotFound):
		return errGrantGone
	case err != nil && !errors.Is(err, fosite.ErrInactiveToken):
		return ServerError(err)
	}
	// A used token still continues here: CompleteRefresh finds it used and
	// treats it as reuse (or grace), which needs the grant's id.
	if orig.GetClient().GetID() != cl.ID {
		return fosite.ErrInvalidGrant.WithHint("The refresh token was issued to another client.")
	}
	if !c.now().Before(stored.GetExpiresAt(fosite.RefreshToken)) {
		return errGrantGone
	}
	err = grantWithin(ar.GetRequestedScopes(), orig.GetGrantedScopes(), ar.GrantScope, func(s string) error {
		return fosite.ErrInvalidScope.WithHintf("Scope %q was not granted originally; a refresh cannot widen the grant.", s)
	})
	if err != nil {
		return err
	}
	for _, a := range orig.GetGrantedAudience() {
		ar.GrantAudience(a)
	}
	// The user's status is not read here: the rotation reads it inside its
	// own transaction (a deactivated or deleted user gets errUserDeactivated
	// there), which also closes the race with a deactivation.
	setter, ok := ar.(interface{ SetID(string) })
	sess, sok := ar.GetSession().(*Session)
	if !ok || !sok {
		return fosite.ErrServerError.WithDebug("unexpected request or session type")
	}
	setter.SetID(orig.GetID())
	sess.Subject, sess.Kind, sess.Realm, sess.Username, sess.Environment = stored.Subject, stored.Kind, stored.Realm, stored.Username, stored.Environment
	sess.UData = stored.UData
	c.SetLifetimes(sess, cl, fosite.GrantTypeRefreshToken, true)
	return nil
}

var errUserDeactivated = fosite.ErrInvalidGrant.WithHint("The user is deactivated.")

// errReused says the presented token was no longer active at rotation.
var errReused = errors.New("core: refresh token already used")

// CompleteRefresh rotates the token prepared by PrepareRefresh and issues
// the new pair into resp: the pair is signed first, then one transaction
// marks the presented token used (only if it is still active), checks the
// user is active, and stores the pair. A used token revokes the grant
// (invalid_grant), unless refresh_grace applies. On MySQL a deadlock or lock
// timeout is retried once.
func (c *Core) CompleteRefresh(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	sig := Signature(ar.GetRequestForm().Get("refresh_token"))
	t, err := c.generateTokens(ctx, ar, true)
	if err != nil {
		return err
	}
	var userID string
	if sess, ok := ar.GetSession().(*Session); ok && sess.Kind == KindUser {
		userID = sess.Subject
	}
	rotate := func() error {
		err := c.store.RotateAndCreate(ctx, ar.GetID(), sig, t.accessSig, t.refreshSig, t.stored, userID)
		if errors.Is(err, fosite.ErrInactiveToken) {
			return errReused
		}
		return err
	}
	err = retryOnce(rotate)
	if errors.Is(err, errReused) && c.snap.Tokens.RefreshGrace > 0 {
		err = retryOnce(func() error { return c.grace(ctx, ar, t, sig) })
	}
	switch {
	case err == nil:
		t.respond(resp, c.now())
		if h, ok := ctx.Value(refreshKey{}).(*refreshHolder); ok {
			h.tokens = t
		}
		return nil
	case errors.Is(err, errReused):
		if rerr := c.store.RevokeGrant(ctx, ar.GetID()); rerr != nil {
			return ServerError(rerr)
		}
		if usedAt, uerr := c.store.RefreshTokenUsedAt(ctx, sig); uerr == nil && usedAt.IsZero() {
			// Never rotated: it was revoked (a logout, a deactivation, a
			// password change), which is no sign of theft.
			return fosite.ErrInvalidGrant.WithHint("The refresh token was revoked; sign in again.")
		}
		return fosite.ErrInvalidGrant.WithHint("The refresh token was already used; every token of its grant is now revoked.")
	case errors.Is(err, storage.ErrUserInactive):
		return errUserDeactivated
	case storage.IsRetryable(err):
		return fosite.ErrInvalidGrant.WithHint("The refresh token is being used concurrently; the grant may be revoked.")
	}
	return ServerError(err)
}

// grace serves a re-presented token within refresh_grace of its rotation
// (a lost response): under the token's row lock, it ends the grant's live
// pair and issues a new one. Outside the window it returns errReused.
func (c *Core) grace(ctx context.Context, ar fosite.AccessRequester, t *tokens, sig string) error {
	return c.store.InTx(ctx, func(ctx context.Context) error {
		if sess, ok := ar.GetSession().(*Session); ok && sess.Kind == KindUser {
			// The user row first (as in every rotation): a deactivation
			// racing this refresh waits for it, or wins and we refuse.
			if err := c.store.LockActiveUser(ctx, sess.Subject); err != nil {
				return err
			}
		}
		if err := c.store.LockRefreshToken(ctx, sig); err != nil {
			return err
		}
		usedAt, err := c.store.RefreshTokenUsedAt(ctx, sig)
		if err != nil {
			return err
		}
		if usedAt.IsZero() || c.now().Sub(usedAt) > c.snap.Tokens.RefreshGrace {
			return errReused
		}
		live, err := c.store.RevokeLiveRefreshTokens(ctx, ar.GetID())
		if err != nil {
			return err
		}
		if live == 0 {
			return errReused // the grant was revoked meanwhile: nothing to continue
		}
		return c.storeTokens(ctx, t)
	})
}

// retryOnce runs fn again after a deadlock or lock-wait timeout (MySQL 1213,
// 1205) or SQLITE_BUSY.
func retryOnce(fn func() error) error {
	err := fn()
	if storage.IsRetryable(err) {
		time.Sleep(5 * time.Millisecond)
		err = fn()
	}
	return err
}

// RefreshRequest is a surface's refresh: the client presenting the token,
// the token, and optionally narrower scopes.
type RefreshRequest struct {
	Client       *Client
	RefreshToken string
	Scopes       []string
	// GrantID, when set, is the grant the token must belong to (compared
	// in constant time); another grant's token is ErrGrantMismatch, before
	// anything is written, so its owner can still use it.
	GrantID string
}

// ErrGrantMismatch answers a refresh whose token is not of the grant the
// request named (a surface answers it as its invalid_grant). It is not an
// RFC 6749 error value: fosite's errors.Is matches any two invalid_grant.
var ErrGrantMismatch = errors.New("core: the refresh token does not belong to the named grant")

// Refresh runs the refresh rules above for a surface, through the provider
// like the token endpoint's refresh_token grant, and returns the new pair
// (same GrantID). Its errors are the grant's RFC 6749 errors (invalid_grant
// for a used, revoked, expired or foreign token or a deactivated user;
// temporarily_unavailable when the database fails); test them with
// errors.Is against fosite's sentinels. It must not run inside a
// transaction.
func (c *Core) Refresh(ctx context.Context, req RefreshRequest) (*Issued, error) {
	if c.store.InTransaction(ctx) {
		return nil, ErrInTransaction
	}
	if req.Client == nil || c.clients[req.Client.ID] != req.Client {
		return nil, errors.New("core: refresh: the client is not of this snapshot")
	}
	if !c.grants[config.GrantRefreshToken] {
		return nil, fosite.ErrUnsupportedGrantType
	}
	ar := fosite.NewAccessRequest(NewSession())
	ar.GrantTypes = fosite.Arguments{config.GrantRefreshToken}
	ar.Client = req.Client
	ar.Form.Set("refresh_token", req.RefreshToken)
	ar.RequestedScope = fosite.Arguments(req.Scopes)
	if err := c.PrepareRefresh(ctx, ar); err != nil {
		return nil, err
	}
	if req.GrantID != "" && subtle.ConstantTimeCompare([]byte(req.GrantID), []byte(ar.GetID())) != 1 {
		return nil, ErrGrantMismatch
	}
	h := &refreshHolder{}
	if _, err := c.provider.NewAccessResponse(context.WithValue(ctx, refreshKey{}, h), ar); err != nil {
		return nil, err
	}
	if h.tokens == nil {
		return nil, errors.New("core: refresh: the refresh grant issued no tokens")
	}
	return h.tokens.issued(), nil
}

// refreshKey carries the holder through which CompleteRefresh hands a
// surface's refresh its tokens.
type refreshKey struct{}

type refreshHolder struct{ tokens *tokens }
