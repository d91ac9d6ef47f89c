package core

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
)

// codeGrant is the token endpoint's authorization_code grant (RFC 6749
// §4.1.3, RFC 7636 §4.6, OpenID Connect Core §3.1.3). It is ours rather
// than fosite's explicit, PKCE and OpenID Connect handlers, because those
// turn a concurrent second use of a code into a 500, delete the PKCE data
// outside any transaction before the verifier is checked (so a retry
// without a verifier passes for a confidential client), and sign ID tokens
// with fosite's signer (active key only, no EdDSA). Here the code's one
// row carries the PKCE challenge and the nonce; tokens and the ID token are
// signed first; then one transaction marks the code used by a conditional
// UPDATE and stores the tokens. A code presented again — after its first
// use, or losing a race for it — is invalid_grant and revokes every token
// its first exchange issued.
type codeGrant struct{ core *Core }

var _ fosite.TokenEndpointHandler = (*codeGrant)(nil)

func (g *codeGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (g *codeGrant) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(config.GrantAuthorizationCode)
}

var (
	errCodeGone = fosite.ErrInvalidGrant.WithHint("The authorization code is invalid or expired.")
	errCodeUsed = fosite.ErrInvalidGrant.WithHint("The authorization code was already used; every token issued from it is now revoked.")
)

// HandleTokenEndpointRequest checks the code (found, unused, unexpired, of
// this client, for this redirect_uri, with the right code_verifier, its
// user active) and prepares ar as the code's grant. It writes only to
// revoke the grant of a code presented again.
func (g *codeGrant) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !g.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	c := g.core
	cl, ok := ar.GetClient().(*Client)
	if !ok || !cl.HasGrant(config.GrantAuthorizationCode) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the authorization_code grant.")
	}
	form := ar.GetRequestForm()
	code := form.Get("code")
	if code == "" {
		return fosite.ErrInvalidRequest.WithHint("The code parameter is missing.")
	}
	stored := NewSession()
	orig, err := c.store.GetAuthorizeCodeSession(ctx, Signature(code), stored)
	switch {
	case errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
		// RFC 6749 §4.1.2: a code used twice revokes what it issued.
		if rerr := c.store.RevokeGrant(ctx, orig.GetID()); rerr != nil {
			return ServerError(rerr)
		}
		return errCodeUsed
	case errors.Is(err, fosite.ErrNotFound):
		return errCodeGone
	case err != nil:
		return ServerError(err)
	}
	if !c.now().Before(stored.GetExpiresAt(fosite.AuthorizeCode)) {
		return errCodeGone
	}
	if subtle.ConstantTimeCompare([]byte(orig.GetClient().GetID()), []byte(cl.ID)) != 1 {
		return fosite.ErrInvalidGrant.WithHint("The authorization code was issued to another client.")
	}
	if want := orig.GetRequestForm().Get("redirect_uri"); want != "" && form.Get("redirect_uri") != want {
		return fosite.ErrInvalidGrant.WithHint("The redirect_uri does not match the authorization request's.")
	}
	if err := checkVerifier(cl, orig.GetRequestForm().Get("code_challenge"), form.Get("code_verifier")); err != nil {
		return err
	}
	// One read gives the user's status and, for the ID token, its claims.
	user, err := c.accounts.Get(ctx, stored.Realm, stored.Subject)
	switch {
	case errors.Is(err, accounts.ErrNotFound), err == nil && user.Status != accounts.StatusActive:
		return fosite.ErrInvalidGrant.WithHint("The user of the authorization code is no longer active.")
	case err != nil:
		return ServerError(err)
	}
	setter, ok := ar.(interface{ SetID(string) })
	sess, sok := ar.GetSession().(*Session)
	if !ok || !sok {
		return fosite.ErrServerError.WithDebug("unexpected request or session type")
	}
	setter.SetID(orig.GetID())
	*sess = *stored
	sess.user = user
	ar.SetRequestedScopes(orig.GetRequestedScopes())
	ar.SetRequestedAudience(orig.GetRequestedAudience())
	for _, s := range orig.GetGrantedScopes() {
		ar.GrantScope(s)
	}
	for _, a := range orig.GetGrantedAudience() {
		ar.GrantAudience(a)
	}
	c.SetLifetimes(sess, cl, fosite.GrantTypeAuthorizationCode, g.withRefresh(cl))
	return nil
}

func (g *codeGrant) withRefresh(cl *Client) bool {
	return cl.HasGrant(config.GrantRefreshToken) && g.core.grants[config.GrantRefreshToken]
}

// checkVerifier applies RFC 7636 §4.6: with a challenge, the verifier must
// be well formed and hash to it (S256 is the only method accepted at the
// authorization endpoint); without one, no verifier may be sent, and a
// client that requires PKCE cannot redeem the code.
func checkVerifier(cl *Client, challenge, verifier string) error {
	if challenge == "" {
		switch {
		case verifier != "":
			return fosite.ErrInvalidGrant.WithHint("A code_verifier was sent, but the authorization request had no code_challenge.")
		case cl.RequirePKCE:
			return fosite.ErrInvalidGrant.WithHint("This client must use PKCE.")
		}
		return nil
	}
	if verifier == "" {
		return fosite.ErrInvalidGrant.WithHint("The code_verifier parameter is missing.")
	}
	if !verifierRe.MatchString(verifier) {
		return fosite.ErrInvalidGrant.WithHint("The code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'.")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) != 1 {
		return fosite.ErrInvalidGrant.WithHint("The code_verifier does not match the code_challenge.")
	}
	return nil
}

// PopulateTokenEndpointResponse signs the tokens (and the ID token when
// openid was granted), then in one transaction marks the code used and
// stores them. Losing the code to another exchange is reuse: the grant is
// revoked and the answer is invalid_grant.
func (g *codeGrant) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	c := g.core
	cl, ok := ar.GetClient().(*Client)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected client type")
	}
	t, err := c.generateTokens(ctx, ar, g.withRefresh(cl))
	if err != nil {
		return err
	}
	var idToken string
	if ar.GetGrantedScopes().Has("openid") {
		if idToken, err = c.idToken(ctx, ar, cl, t.access); err != nil {
			return err
		}
	}
	sig := Signature(ar.GetRequestForm().Get("code"))
	err = c.store.InTx(ctx, func(ctx context.Context) error {
		if err := c.store.InvalidateAuthorizeCodeSession(ctx, sig); err != nil {
			return err
		}
		if sess, ok := ar.GetSession().(*Session); ok && sess.SID != "" {
			// Logging out of the browser session ends this grant. The row
			// is needed while the session can still log out: until its end
			// (sign-in plus sessions.ttl), or the access token's if later.
			end := sess.AuthTime.Add(c.snap.Sessions.TTL)
			if at := sess.GetExpiresAt(fosite.AccessToken); at.After(end) {
				end = at
			}
			if err := c.store.AddSessionGrant(ctx, sess.SID, ar.GetID(), end); err != nil {
				return err
			}
		}
		return c.storeTokens(ctx, t)
	})
	switch {
	case errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
		if rerr := c.store.RevokeGrant(ctx, ar.GetID()); rerr != nil {
			return ServerError(rerr)
		}
		return errCodeUsed
	case err != nil:
		return ServerError(err)
	}
	t.respond(resp, c.now())
	if idToken != "" {
		resp.SetExtra("id_token", idToken)
	}
	return nil
}
