package grants

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/storage"
)

// Refresh serves grant_type=refresh_token (RFC 6749 §6) with rotation and
// reuse detection (RFC 9700 §4.14.2). It replaces fosite's handler, which
// reads the token outside the transaction and lets concurrent refreshes of
// one token fork the grant (FOSITE-NOTES).
//
// Every refresh returns a new refresh token and marks the presented one used
// by a conditional UPDATE in the transaction that stores the new pair, so of
// N concurrent refreshes of one token exactly one wins. Presenting a used
// token is reuse: the whole grant is revoked and the answer is invalid_grant
// (the race's losers too, which also revokes the winner's new pair). With
// tokens.refresh_grace > 0, a re-presentation by the same client within the
// window instead gets a new pair and ends the pair issued before it, so the
// grant never has two live refresh tokens. The previous access token stays
// valid until its exp.
type Refresh struct {
	core *core.Core
}

var _ core.Grant = (*Refresh)(nil)

// NewRefresh is the core.GrantFactory for the refresh_token grant.
func NewRefresh(c *core.Core) core.Grant { return &Refresh{core: c} }

// GrantType returns "refresh_token".
func (h *Refresh) GrantType() string { return config.GrantRefreshToken }

// CanSkipClientAuth is false: RFC 6749 §6 binds the token to its client.
func (h *Refresh) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// CanHandleTokenEndpointRequest reports whether the request is a refresh.
func (h *Refresh) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(config.GrantRefreshToken)
}

var errGrantGone = fosite.ErrInvalidGrant.WithHint("The refresh token is invalid, expired, revoked or was already used.")

// HandleTokenEndpointRequest validates the presented token (RFC 6749 §6):
// it exists, belongs to this client, has not expired, asks for no scope
// beyond the original grant, and its user is still active. It prepares the
// request as a continuation of the grant (same request id and subject).
// Whether the token is unused is decided atomically in Populate.
func (h *Refresh) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	cl, ok := ar.GetClient().(*core.Client)
	if !ok || !cl.HasGrant(config.GrantRefreshToken) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the refresh_token grant.")
	}
	token := ar.GetRequestForm().Get("refresh_token")
	if token == "" {
		return fosite.ErrInvalidRequest.WithHint("The refresh_token parameter is missing.")
	}
	stored := core.NewSession()
	orig, err := h.core.Store.GetRefreshTokenSession(ctx, core.Signature(token), stored)
	switch {
	case errors.Is(err, fosite.ErrNotFound):
		return errGrantGone
	case err != nil && !errors.Is(err, fosite.ErrInactiveToken):
		return core.ServerError(err)
	}
	// A used token still continues here: Populate finds it used and treats
	// it as reuse (or grace), which needs the grant's id.
	if orig.GetClient().GetID() != cl.ID {
		return fosite.ErrInvalidGrant.WithHint("The refresh token was issued to another client.")
	}
	if !h.core.Now().Before(stored.GetExpiresAt(fosite.RefreshToken)) {
		return errGrantGone
	}
	granted := orig.GetGrantedScopes()
	requested := ar.GetRequestedScopes()
	for _, s := range requested {
		if !granted.Has(s) {
			return fosite.ErrInvalidScope.WithHintf("Scope %q was not granted originally; a refresh cannot widen the grant.", s)
		}
	}
	if len(requested) == 0 {
		requested = granted
	}
	for _, s := range requested {
		ar.GrantScope(s)
	}
	for _, a := range orig.GetGrantedAudience() {
		ar.GrantAudience(a)
	}
	if stored.Kind == core.KindUser {
		_, err := h.core.Accounts.ActiveID(ctx, stored.Realm, stored.Subject, "", "")
		switch {
		case errors.Is(err, accounts.ErrNotFound):
			return errGrantGone
		case errors.Is(err, accounts.ErrUserDeactivated):
			return fosite.ErrInvalidGrant.WithHint("The user is deactivated.")
		case err != nil:
			return core.ServerError(err)
		}
	}
	ar.(interface{ SetID(string) }).SetID(orig.GetID())
	sess := ar.GetSession().(*core.Session)
	sess.Subject, sess.Kind, sess.Realm, sess.Username = stored.Subject, stored.Kind, stored.Realm, stored.Username
	h.core.SetLifetimes(sess, cl, fosite.GrantTypeRefreshToken, true)
	return nil
}

// errReused says the presented token was no longer active at rotation.
var errReused = errors.New("grants: refresh token already used")

// PopulateTokenEndpointResponse rotates the token and issues the new pair in
// one transaction; on MySQL a deadlock or lock timeout is retried once.
func (h *Refresh) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	sig := core.Signature(ar.GetRequestForm().Get("refresh_token"))
	tokens, err := h.core.GenerateTokens(ctx, ar, true)
	if err != nil {
		return err
	}
	rotate := func() error {
		err := h.core.RotateAndStoreTokens(ctx, sig, tokens)
		if errors.Is(err, fosite.ErrInactiveToken) {
			return errReused
		}
		return err
	}
	err = retryOnce(rotate)
	if errors.Is(err, errReused) && h.core.Snap.Tokens.RefreshGrace > 0 {
		err = retryOnce(func() error { return h.grace(ctx, ar, tokens, sig) })
	}
	switch {
	case err == nil:
		tokens.Respond(resp)
		return nil
	case errors.Is(err, errReused):
		if rerr := h.core.Store.RevokeGrant(ctx, ar.GetID()); rerr != nil {
			return core.ServerError(rerr)
		}
		return fosite.ErrInvalidGrant.WithHint("The refresh token was already used; every token of its grant is now revoked.")
	case storage.IsRetryable(err):
		return fosite.ErrInvalidGrant.WithHint("The refresh token is being used concurrently; the grant may be revoked.")
	}
	return core.ServerError(err)
}

// grace serves a re-presented token within refresh_grace of its rotation
// (a lost response): under the token's row lock, it ends the grant's live
// pair and issues a new one. Outside the window it returns errReused.
func (h *Refresh) grace(ctx context.Context, ar fosite.AccessRequester, tokens *core.Tokens, sig string) error {
	return h.core.Store.InTx(ctx, func(ctx context.Context) error {
		if err := h.core.Store.LockRefreshToken(ctx, sig); err != nil {
			return err
		}
		usedAt, err := h.core.Store.RefreshTokenUsedAt(ctx, sig)
		if err != nil {
			return err
		}
		if usedAt.IsZero() || h.core.Now().Sub(usedAt) > h.core.Snap.Tokens.RefreshGrace {
			return errReused
		}
		live, err := h.core.Store.RevokeLiveRefreshTokens(ctx, ar.GetID())
		if err != nil {
			return err
		}
		if live == 0 {
			return errReused // the grant was revoked meanwhile: nothing to continue
		}
		return h.core.StoreTokens(ctx, tokens)
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
