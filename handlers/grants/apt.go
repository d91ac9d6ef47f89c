package grants

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/inbound"
)

// APT serves grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
// (RFC 7523 §2.1) whose assertion is a Work API Account Provider Token
// (SPEC §4): an existing user of the APT's environment gets an access token
// of the environment's user_token_ttl, issued as the environment's client,
// which must be the authenticated caller. No refresh token. fosite's own
// jwt-bearer handler does not fit the APT profile (its claim names, no
// required jti or aud; FOSITE-NOTES).
type APT struct {
	core aptIssuer
}

// aptIssuer is what the jwt-bearer grant needs of the core.
type aptIssuer interface {
	issuer
	inbound.OnceRecorder
	Snapshot() *config.Snapshot
	TokenURL() string
	Now() time.Time
	ActiveUserID(ctx context.Context, realmID, userID, guid, arbitraryID string) (string, error)
}

var _ core.Grant = (*APT)(nil)

// NewAPT is the core.GrantFactory for the jwt-bearer grant.
func NewAPT(c *core.Core) core.Grant { return &APT{core: c} }

// GrantType returns the RFC 7523 grant type URN.
func (h *APT) GrantType() string { return config.GrantJWTBearer }

// CanSkipClientAuth is false: the caller must be the environment's client.
func (h *APT) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// CanHandleTokenEndpointRequest reports whether the request is jwt-bearer.
func (h *APT) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(config.GrantJWTBearer)
}

// HandleTokenEndpointRequest verifies the APT (RFC 7523 §3, with SPEC §4's
// claim names), finds the user, and consumes the APT's jti last, so a
// request refused for any reason leaves the APT unused.
func (h *APT) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	cl, ok := ar.GetClient().(*core.Client)
	if !ok || !cl.HasGrant(config.GrantJWTBearer) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the jwt-bearer grant.")
	}
	assertion := ar.GetRequestForm().Get("assertion")
	if assertion == "" {
		return fosite.ErrInvalidRequest.WithHint("The assertion parameter is missing.")
	}
	apt, err := inbound.VerifyAPT(assertion, h.core.Snapshot(), h.core.TokenURL(), h.core.Now())
	if err != nil {
		return fosite.ErrInvalidGrant.WithHint(inbound.Reason(err))
	}
	if apt.Environment.Client != cl.ID {
		return fosite.ErrInvalidClient.WithHintf("APTs of this environment are exchanged by its client %q only.", apt.Environment.Client)
	}
	if err := core.GrantScopesAndAudience(ar, cl); err != nil {
		return err
	}
	userID, err := h.core.ActiveUserID(ctx, cl.Realm, "", apt.Environment.GUID, apt.ArbitraryID)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		return fosite.ErrInvalidGrant.WithHint("No user with this arbitrary_id in the environment; create it with POST /workapi/users first.")
	case errors.Is(err, accounts.ErrUserDeactivated):
		return fosite.ErrInvalidGrant.WithHint("The user is deactivated.")
	case err != nil:
		return core.ServerError(err)
	}
	if err := apt.Consume(ctx, h.core); err != nil {
		if errors.Is(err, inbound.ErrReplayed) {
			return fosite.ErrInvalidGrant.WithHint(inbound.Reason(err))
		}
		return core.ServerError(err)
	}
	sess := ar.GetSession().(*core.Session)
	sess.Subject, sess.Kind, sess.Realm, sess.Environment = userID, core.KindUser, cl.Realm, apt.Environment.GUID
	sess.SetExpiresAt(fosite.AccessToken, h.core.Now().Add(apt.Environment.UserTokenTTL).Truncate(time.Second))
	return nil
}

// PopulateTokenEndpointResponse issues the access token (RFC 7523 §2.1: no
// refresh token).
func (h *APT) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	return h.core.IssueTokens(ctx, ar, resp, false)
}
