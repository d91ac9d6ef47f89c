package core

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

// InternalGrant is the grant type of tokens that a compatibility surface
// asks core to issue (DESIGN §1). Its handler issues only requests built in
// process by Issue; it is never in the served grant types, so
// /oauth2/token answers unsupported_grant_type for it before fosite sees
// the request, and its HandleTokenEndpointRequest refuses it as well.
const InternalGrant = "urn:latchkey:params:grant-type:internal"

// internalGrant issues the access tokens of Issue through the provider.
type internalGrant struct{ core *Core }

func (g *internalGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (g *internalGrant) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(InternalGrant)
}

// HandleTokenEndpointRequest refuses every HTTP request: internal issuance
// starts at Issue, which skips this step.
func (g *internalGrant) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return fosite.ErrUnknownRequest
}

func (g *internalGrant) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	return g.core.IssueTokens(ctx, ar, resp, false)
}

// IssueRequest describes a user access token a compatibility surface wants.
type IssueRequest struct {
	Client    *Client
	Session   *Session // subject, kind, realm, environment; expiry is set by Issue
	ExpiresAt time.Time
	// GrantID continues an existing grant (its request id) when set;
	// RequestedAt is then the grant's first issuance.
	GrantID     string
	RequestedAt time.Time
}

// Issued is a token Issue made.
type Issued struct {
	AccessToken string
	ExpiresAt   time.Time
	GrantID     string
}

// Issue makes an access token as req.Client for req.Session's subject, with
// the client's scopes and audience, through the provider's
// NewAccessResponse like every other token (one issuance path, one storage
// format). It runs in the transaction in ctx, if any.
func (c *Core) Issue(ctx context.Context, req IssueRequest) (*Issued, error) {
	ar := fosite.NewAccessRequest(req.Session)
	ar.GrantTypes = fosite.Arguments{InternalGrant}
	ar.Client = req.Client
	if req.GrantID != "" {
		ar.ID = req.GrantID
	}
	if !req.RequestedAt.IsZero() {
		ar.RequestedAt = req.RequestedAt
	}
	for _, s := range req.Client.GetScopes() {
		ar.GrantScope(s)
	}
	for _, a := range req.Client.GetAudience() {
		ar.GrantAudience(a)
	}
	req.Session.SetExpiresAt(fosite.AccessToken, req.ExpiresAt.Truncate(time.Second))
	resp, err := c.Provider.NewAccessResponse(ctx, ar)
	if err != nil {
		return nil, err
	}
	return &Issued{AccessToken: resp.GetAccessToken(), ExpiresAt: req.Session.GetExpiresAt(fosite.AccessToken), GrantID: ar.GetID()}, nil
}
