package grants

import (
	"context"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

// ClientCredentials serves grant_type=client_credentials (RFC 6749 §4.4).
// Unlike fosite's handler it grants scopes and audience (SPEC §3: a request
// without scope gets all of the client's scopes), records the client as the
// subject, and issues through our token strategy.
type ClientCredentials struct {
	core issuer
}

var _ core.Grant = (*ClientCredentials)(nil)

// NewClientCredentials is the core.GrantFactory for client_credentials.
func NewClientCredentials(c *core.Core) core.Grant {
	return &ClientCredentials{core: c}
}

// GrantType returns "client_credentials".
func (h *ClientCredentials) GrantType() string { return config.GrantClientCredentials }

// CanSkipClientAuth is false: RFC 6749 §4.4.2 requires client authentication.
func (h *ClientCredentials) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

// CanHandleTokenEndpointRequest reports whether the request is client_credentials.
func (h *ClientCredentials) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(config.GrantClientCredentials)
}

// HandleTokenEndpointRequest validates the request (RFC 6749 §4.4.2) and
// prepares the session.
func (h *ClientCredentials) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	cl, ok := ar.GetClient().(*core.Client)
	if !ok || cl.IsPublic() {
		return fosite.ErrUnauthorizedClient.WithHint("A public client cannot use the client_credentials grant.")
	}
	if !cl.HasGrant(config.GrantClientCredentials) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not allowed to use the client_credentials grant.")
	}
	if err := core.GrantScopesAndAudience(ar, cl); err != nil {
		return err
	}
	sess, ok := ar.GetSession().(*core.Session)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected session type")
	}
	sess.Subject = cl.ID
	sess.Kind = core.KindClient
	sess.Realm = cl.Realm
	h.core.SetLifetimes(sess, cl, fosite.GrantTypeClientCredentials, false)
	return nil
}

// PopulateTokenEndpointResponse issues the access token (RFC 6749 §4.4.3); no
// refresh token is issued for client_credentials.
func (h *ClientCredentials) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	return h.core.IssueTokens(ctx, ar, resp, false)
}
