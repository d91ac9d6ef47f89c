package grants

import (
	"context"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

// refreshRules is what the refresh grant needs of the core: the rules
// themselves live in core, so that every surface's refresh applies the same
// ones.
type refreshRules interface {
	PrepareRefresh(ctx context.Context, ar fosite.AccessRequester) error
	CompleteRefresh(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error
}

// Refresh serves grant_type=refresh_token (RFC 6749 §6) with rotation and
// reuse detection (RFC 9700 §4.14.2): a thin adapter from fosite's two
// token-endpoint steps onto core's refresh rules (core.PrepareRefresh,
// core.CompleteRefresh).
type Refresh struct {
	rules refreshRules
}

var _ core.Grant = (*Refresh)(nil)

// NewRefresh is the core.GrantFactory for the refresh_token grant.
func NewRefresh(c *core.Core) core.Grant { return &Refresh{rules: c} }

// GrantType returns "refresh_token".
func (h *Refresh) GrantType() string { return config.GrantRefreshToken }

// CanSkipClientAuth is false: RFC 6749 §6 binds the token to its client.
func (h *Refresh) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// CanHandleTokenEndpointRequest reports whether the request is a refresh.
func (h *Refresh) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(config.GrantRefreshToken)
}

// HandleTokenEndpointRequest validates the presented token (core.PrepareRefresh).
func (h *Refresh) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	return h.rules.PrepareRefresh(ctx, ar)
}

// PopulateTokenEndpointResponse rotates the token and issues the new pair
// (core.CompleteRefresh).
func (h *Refresh) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	return h.rules.CompleteRefresh(ctx, ar, resp)
}
