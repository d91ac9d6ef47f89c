package grants

import (
	"context"
	"errors"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

// Password serves grant_type=password (RFC 6749 §4.3) for clients that list
// it. RFC 9700 §2.4 discourages this grant; Latchkey offers it per client,
// for first-party and legacy clients (docs/security.md). The credentials go
// through the one password check (accounts.VerifyPassword: lockout, bounded
// hashing, equal answers for every failure).
type Password struct {
	core passwordIssuer
}

// passwordIssuer is what the password grant needs of the core.
type passwordIssuer interface {
	issuer
	VerifyPassword(ctx context.Context, realmID, login, password string) (*accounts.User, error)
}

var _ core.Grant = (*Password)(nil)

// NewPassword is the core.GrantFactory for the password grant.
func NewPassword(c *core.Core) core.Grant { return &Password{core: c} }

// GrantType returns "password".
func (h *Password) GrantType() string { return config.GrantPassword }

// CanSkipClientAuth is false: the client authenticates by its method (a
// public client by client_id alone).
func (h *Password) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// CanHandleTokenEndpointRequest reports whether the request is a password grant.
func (h *Password) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(config.GrantPassword)
}

// HandleTokenEndpointRequest checks the user's credentials (RFC 6749 §4.3.2)
// in the client's realm and prepares the session.
func (h *Password) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	cl, ok := ar.GetClient().(*core.Client)
	if !ok || !cl.HasGrant(config.GrantPassword) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the password grant.")
	}
	form := ar.GetRequestForm()
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		return fosite.ErrInvalidRequest.WithHint("The username and password parameters are required.")
	}
	if err := core.GrantScopesAndAudience(ar, cl); err != nil {
		return err
	}
	user, err := h.core.VerifyPassword(ctx, cl.Realm, username, password)
	if err != nil {
		return loginError(err)
	}
	sess, ok := ar.GetSession().(*core.Session)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected session type")
	}
	sess.Subject, sess.Kind, sess.Realm, sess.Username = user.ID, core.KindUser, cl.Realm, user.Username
	h.core.SetLifetimes(sess, cl, fosite.GrantTypePassword, cl.HasGrant(config.GrantRefreshToken))
	return nil
}

// loginError maps the password check's answers to RFC 6749 errors.
func loginError(err error) error {
	switch {
	case errors.Is(err, accounts.ErrInvalidCredentials):
		return fosite.ErrInvalidGrant.WithHint("The username or password is wrong.")
	case errors.Is(err, accounts.ErrBusy):
		return fosite.ErrTemporarilyUnavailable.WithHint("Too many logins at once; retry in a moment.")
	}
	return core.ServerError(err)
}

// PopulateTokenEndpointResponse issues the access token and, when the
// client has the refresh_token grant, a refresh token (RFC 6749 §4.3.3).
func (h *Password) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	cl := ar.GetClient().(*core.Client)
	return h.core.IssueTokens(ctx, ar, resp, cl.HasGrant(config.GrantRefreshToken))
}
