package core

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
)

// tokens are freshly generated tokens for one request, not yet stored.
// Generating (signing a JWT, encoding the session) is done before any
// transaction begins, so a database write lock is never held across it.
type tokens struct {
	ar                  fosite.AccessRequester
	stored              fosite.Requester
	access, accessSig   string
	refresh, refreshSig string
	// rowless is set for a client_credentials JWT: nothing is stored.
	rowless bool
}

// generateTokens makes an access token and, when withRefresh, a refresh
// token for ar, whose session expiries must be set.
func (c *Core) generateTokens(ctx context.Context, ar fosite.AccessRequester, withRefresh bool) (*tokens, error) {
	t := &tokens{ar: ar, stored: ar.Sanitize(nil), rowless: c.strategy.rowless(ar)}
	if t.rowless && withRefresh {
		return nil, fosite.ErrServerError.WithDebug("a client_credentials token has no refresh token")
	}
	var err error
	if t.access, t.accessSig, err = c.strategy.GenerateAccessToken(ctx, ar); err != nil {
		return nil, err
	}
	if withRefresh {
		if t.refresh, t.refreshSig, err = c.strategy.GenerateRefreshToken(ctx, ar); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// storeTokens writes the tokens' rows: with a refresh token both in one
// transaction (the one in ctx, or a new one), so a failure leaves neither.
func (c *Core) storeTokens(ctx context.Context, t *tokens) error {
	if writesOff || t.rowless {
		return nil // writesOff: the benchmark build only, see ceiling.go
	}
	if t.refresh == "" {
		return c.store.CreateAccessTokenSession(ctx, t.accessSig, t.stored)
	}
	return c.store.InTx(ctx, func(ctx context.Context) error {
		if err := c.store.CreateAccessTokenSession(ctx, t.accessSig, t.stored); err != nil {
			return err
		}
		return c.store.CreateRefreshTokenSession(ctx, t.refreshSig, t.accessSig, t.stored)
	})
}

// respond puts the tokens into resp (RFC 6749 §5.1).
func (t *tokens) respond(resp fosite.AccessResponder, now time.Time) {
	resp.SetAccessToken(t.access)
	resp.SetTokenType("bearer")
	resp.SetExpiresIn(t.ar.GetSession().GetExpiresAt(fosite.AccessToken).Sub(now).Round(time.Second))
	resp.SetScopes(t.ar.GetGrantedScopes())
	if t.refresh != "" {
		resp.SetExtra("refresh_token", t.refresh)
	}
}

// issued describes the tokens for a surface.
func (t *tokens) issued() *Issued {
	sess := t.ar.GetSession()
	out := &Issued{
		AccessToken: t.access,
		ExpiresAt:   sess.GetExpiresAt(fosite.AccessToken),
		GrantID:     t.ar.GetID(),
		Scopes:      append([]string(nil), t.ar.GetGrantedScopes()...),
	}
	if t.refresh != "" {
		out.RefreshToken = t.refresh
		out.RefreshExpiresAt = sess.GetExpiresAt(fosite.RefreshToken)
	}
	return out
}

// IssueTokens generates, stores and returns in resp an access token and,
// when withRefresh, a refresh token for ar, whose session the grant has
// prepared. It is the token-endpoint grants' issuance step.
func (c *Core) IssueTokens(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder, withRefresh bool) error {
	t, err := c.generateTokens(ctx, ar, withRefresh)
	if err != nil {
		return err
	}
	if err := c.storeTokens(ctx, t); err != nil {
		return ServerError(err)
	}
	t.respond(resp, c.now())
	return nil
}

// SetLifetimes sets the session's access token expiry and, when
// withRefresh, its refresh token expiry, from the client's lifetimes (or the
// defaults), starting now.
func (c *Core) SetLifetimes(sess fosite.Session, cl *Client, grant fosite.GrantType, withRefresh bool) {
	now := c.now()
	at := fosite.GetEffectiveLifespan(cl, grant, fosite.AccessToken, c.snap.Tokens.AccessTokenTTL)
	sess.SetExpiresAt(fosite.AccessToken, now.Add(at).Truncate(time.Second))
	if withRefresh {
		rt := fosite.GetEffectiveLifespan(cl, grant, fosite.RefreshToken, c.snap.Tokens.RefreshTokenTTL)
		sess.SetExpiresAt(fosite.RefreshToken, now.Add(rt).Truncate(time.Second))
	}
}

// InternalGrant is the grant type of tokens that a compatibility surface
// asks core to issue. Its handler issues only requests built in process by
// Prepare; it is never among the served grant types, so /oauth2/token
// answers unsupported_grant_type for it before fosite sees the request, and
// its HandleTokenEndpointRequest refuses it as well.
const InternalGrant = "urn:latchkey:params:grant-type:internal"

// internalGrant generates the tokens of Prepare through the provider.
type internalGrant struct{ core *Core }

func (g *internalGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (g *internalGrant) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(InternalGrant)
}

// HandleTokenEndpointRequest refuses every HTTP request: internal issuance
// starts at Prepare, which skips this step.
func (g *internalGrant) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return fosite.ErrUnknownRequest
}

// pendingKey carries the holder that Prepare reads the generated tokens from.
type pendingKey struct{}

type pendingHolder struct {
	withRefresh bool
	tokens      *tokens
}

// PopulateTokenEndpointResponse generates (never stores) the tokens of an
// internal request; Prepare's caller stores them with Pending.Save.
func (g *internalGrant) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	h, ok := ctx.Value(pendingKey{}).(*pendingHolder)
	if !ok {
		return fosite.ErrUnknownRequest
	}
	t, err := g.core.generateTokens(ctx, ar, h.withRefresh)
	if err != nil {
		return err
	}
	h.tokens = t
	t.respond(resp, g.core.now())
	return nil
}

// IssueRequest describes the tokens a surface wants for a user.
type IssueRequest struct {
	// Client is the client the tokens are issued as; they carry its scopes
	// and audience.
	Client *Client
	// UserID, Realm, Username and Environment describe the user (a user
	// token's subject is UserID).
	UserID, Realm, Username, Environment string
	// ExpiresAt is the access token's expiry; zero means the client's
	// access token lifetime from now.
	ExpiresAt time.Time
	// WithRefresh adds a refresh token of the client's refresh lifetime.
	WithRefresh bool
	// GrantID continues an existing grant (its id) when set; GrantedAt is
	// then the grant's first issuance.
	GrantID   string
	GrantedAt time.Time
	// UData, when set, puts LoginID's "udata" claim (the username, or "")
	// in a JWT access token; it is kept across refreshes.
	UData *string
}

// Issued is what Issue or Refresh made.
type Issued struct {
	AccessToken string
	ExpiresAt   time.Time
	// RefreshToken is empty when none was issued.
	RefreshToken     string
	RefreshExpiresAt time.Time
	// GrantID identifies the grant; it stays the same across refreshes.
	GrantID string
	Scopes  []string
}

// Pending holds tokens that Prepare signed and that are not stored yet.
type Pending interface {
	// Save stores the prepared tokens, in the transaction in ctx if there
	// is one (with a refresh token, both rows commit together or neither
	// does). A failure is ErrUnavailable.
	Save(ctx context.Context) (*Issued, error)
}

// pending is the Core's Pending.
type pending struct {
	core   *Core
	tokens *tokens
}

// ErrInTransaction is returned by the operations that sign or hash when ctx
// carries a database transaction: they would hold its lock (SQLite's one
// write lock) for the whole signature.
var ErrInTransaction = errors.New("core: this operation signs tokens and must run before the transaction, not inside it")

// Prepare generates the tokens of req as req.Client for its user, through
// the provider's NewAccessResponse like every other token (one issuance
// path, one storage format), and signs them — but stores nothing: call
// Save in the transaction that writes the request's other effects. It must
// not run inside a transaction (ErrInTransaction).
func (c *Core) Prepare(ctx context.Context, req IssueRequest) (Pending, error) {
	if c.store.InTransaction(ctx) {
		return nil, ErrInTransaction
	}
	if req.Client == nil || c.clients[req.Client.ID] != req.Client {
		return nil, errors.New("core: issue: the client is not of this snapshot")
	}
	if req.UserID == "" || req.Realm != req.Client.Realm {
		return nil, errors.New("core: issue: a user of the client's realm is required")
	}
	sess := &Session{Subject: req.UserID, Kind: KindUser, Realm: req.Realm, Username: req.Username, Environment: req.Environment, UData: req.UData}
	ar := fosite.NewAccessRequest(sess)
	ar.GrantTypes = fosite.Arguments{InternalGrant}
	ar.Client = req.Client
	if req.GrantID != "" {
		ar.ID = req.GrantID
	}
	if !req.GrantedAt.IsZero() {
		ar.RequestedAt = req.GrantedAt
	}
	for _, s := range req.Client.GetScopes() {
		ar.GrantScope(s)
	}
	for _, a := range req.Client.GetAudience() {
		ar.GrantAudience(a)
	}
	c.SetLifetimes(sess, req.Client, fosite.GrantType(InternalGrant), req.WithRefresh)
	if !req.ExpiresAt.IsZero() {
		sess.SetExpiresAt(fosite.AccessToken, req.ExpiresAt.Truncate(time.Second))
	}
	h := &pendingHolder{withRefresh: req.WithRefresh}
	if _, err := c.provider.NewAccessResponse(context.WithValue(ctx, pendingKey{}, h), ar); err != nil {
		return nil, err
	}
	if h.tokens == nil {
		return nil, errors.New("core: issue: the internal grant generated no tokens")
	}
	return &pending{core: c, tokens: h.tokens}, nil
}

// Save implements Pending.
func (p *pending) Save(ctx context.Context) (*Issued, error) {
	if err := p.core.storeTokens(ctx, p.tokens); err != nil {
		return nil, unavailable("store tokens", err)
	}
	return p.tokens.issued(), nil
}

// Issue is Prepare then Save: the tokens of req, signed outside any
// transaction and stored in one. It must not run inside a transaction.
func (c *Core) Issue(ctx context.Context, req IssueRequest) (*Issued, error) {
	p, err := c.Prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.Save(ctx)
}

// Atomically runs fn in one database transaction: everything fn writes
// through the core (Pending.Save, single-use ids) and accounts commits
// together or not at all. Nothing in fn may sign or hash (Prepare first).
func (c *Core) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	return c.store.InTx(ctx, fn)
}

// UseOnce records a single-use id (an APT's jti, a nonce) atomically, in
// the transaction in ctx if any; a second use wraps storage.ErrAlreadyUsed.
// It lets a Core serve as inbound.OnceRecorder.
func (c *Core) UseOnce(ctx context.Context, kind, issuer, id string, expiresAt time.Time) error {
	return c.store.UseOnce(ctx, kind, issuer, id, expiresAt)
}
