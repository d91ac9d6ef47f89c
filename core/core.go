package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/secrethash"
	"github.com/latchkey/latchkey/storage"
)

// TokenPath is the token endpoint's path below the issuer.
const TokenPath = "/oauth2/token"

// Grant is a token-endpoint handler that serves one grant_type. Grants are
// built per snapshot by the factories passed to New.
type Grant interface {
	fosite.TokenEndpointHandler
	// GrantType is the grant_type value the handler serves.
	GrantType() string
}

// GrantFactory builds a grant for one Core. A grant keeps only the narrow
// interface of the core operations it calls.
type GrantFactory func(c *Core) Grant

// Deps are the process-lifetime dependencies that every core of a process
// shares: they outlive reloads, while a Core lives as long as its snapshot.
type Deps struct {
	// Store is the database.
	Store *storage.Store
	// Accounts holds users, the one password check and the bounded hasher.
	Accounts *accounts.Service
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
}

// Core is the operations API over one config snapshot: it issues, refreshes,
// introspects, authenticates and revokes tokens through the fosite provider
// built for that snapshot. Its parts are unexported: surfaces and grants call
// its operations, never its provider or store. A Core is immutable once New
// returns; a reload builds a new one.
type Core struct {
	snap     *config.Snapshot
	store    *storage.Store
	accounts *accounts.Service
	provider fosite.OAuth2Provider
	strategy *TokenStrategy
	// verifier checks client_credentials JWTs, which have no row.
	verifier *tokenVerifier
	// idSigners sign ID tokens, one per signing key (by kid).
	idSigners map[string]jose.Signer
	tokenURL  string
	clients   map[string]*Client
	grants    map[string]bool
	now       func() time.Time
	// dummySecretHash is checked when a client is unknown or uses another
	// method, so that such a request costs what a wrong secret costs.
	dummySecretHash string
}

// New builds the core of snap on deps, with the given grants. It is the one
// place a fosite provider is composed.
func New(snap *config.Snapshot, deps Deps, grants ...GrantFactory) (*Core, error) {
	if deps.Store == nil || deps.Accounts == nil {
		return nil, errors.New("core: a store and an accounts service are required")
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	strategy, err := NewTokenStrategy(snap, now)
	if err != nil {
		return nil, err
	}
	dummy, err := dummySecretHash(snap)
	if err != nil {
		return nil, err
	}
	idSigners, err := newIDSigners(snap)
	if err != nil {
		return nil, err
	}
	verifier, err := newTokenVerifier(snap, now)
	if err != nil {
		return nil, err
	}
	c := &Core{
		snap:            snap,
		store:           deps.Store,
		accounts:        deps.Accounts,
		strategy:        strategy,
		verifier:        verifier,
		idSigners:       idSigners,
		tokenURL:        snap.Issuer + TokenPath,
		clients:         make(map[string]*Client, len(snap.Clients)),
		grants:          make(map[string]bool, len(grants)),
		now:             now,
		dummySecretHash: dummy,
	}
	for _, cl := range snap.Clients {
		c.clients[cl.ID] = newClient(cl)
	}
	// Every lazily defaulted getter is set here: fosite fills them on first
	// use without a lock, which races under concurrent first requests.
	fc := &fosite.Config{
		AccessTokenLifespan:          snap.Tokens.AccessTokenTTL,
		RefreshTokenLifespan:         snap.Tokens.RefreshTokenTTL,
		AuthorizeCodeLifespan:        CodeLifetime,
		AccessTokenIssuer:            snap.Issuer,
		IDTokenIssuer:                snap.Issuer,
		TokenURL:                     c.tokenURL,
		ScopeStrategy:                fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:     fosite.ExactAudienceMatchingStrategy,
		ClientSecretsHasher:          secretHasher{},
		JWKSFetcherStrategy:          fosite.NewDefaultJWKSFetcherStrategy(),
		RefreshTokenScopes:           []string{},
		ClientAuthenticationStrategy: c.authenticateClientStrategy,
		SendDebugMessagesToClients:   false,
	}
	internal := &internalGrant{core: c}
	// The authorization endpoint's code handler and the token endpoint's
	// authorization_code grant are ours (see codeGrant for why not
	// fosite's explicit, PKCE and OpenID Connect handlers).
	codes, codeTokens := &codeHandler{core: c}, &codeGrant{core: c}
	c.grants[config.GrantAuthorizationCode] = true
	factories := []compose.Factory{
		compose.OAuth2TokenIntrospectionFactory,
		func(fosite.Configurator, any, any) any { return internal },
		func(fosite.Configurator, any, any) any { return codes },
		func(fosite.Configurator, any, any) any { return codeTokens },
	}
	for _, build := range grants {
		g := build(c)
		c.grants[g.GrantType()] = true
		factories = append(factories, func(fosite.Configurator, any, any) any { return g })
	}
	c.provider = compose.Compose(fc, &providerStore{Store: deps.Store, core: c}, strategy, factories...)
	return c, nil
}

// Snapshot returns the config snapshot this core serves. It is immutable.
func (c *Core) Snapshot() *config.Snapshot { return c.snap }

// Now returns the current time on the core's clock.
func (c *Core) Now() time.Time { return c.now() }

// TokenURL is the exact public URL of the token endpoint.
func (c *Core) TokenURL() string { return c.tokenURL }

// Client returns the client id of this snapshot, or nil.
func (c *Core) Client(id string) *Client { return c.clients[id] }

// SupportsGrant reports whether grant_type is served by some handler.
func (c *Core) SupportsGrant(grantType string) bool { return c.grants[grantType] }

// GrantTypes lists the served grant types (for discovery).
func (c *Core) GrantTypes() []string {
	out := make([]string, 0, len(c.grants))
	for _, g := range []string{config.GrantClientCredentials, config.GrantPassword, config.GrantAuthorizationCode, config.GrantRefreshToken, config.GrantJWTBearer} {
		if c.grants[g] {
			out = append(out, g)
		}
	}
	return out
}

// TokenRequest runs an RFC 6749 token request through the provider: client
// authentication, the grant's checks, then issuance. ar is nil when the
// request could not be parsed; write err with WriteTokenError.
func (c *Core) TokenRequest(ctx context.Context, r *http.Request) (fosite.AccessRequester, fosite.AccessResponder, error) {
	ar, err := c.provider.NewAccessRequest(ctx, r, NewSession())
	if err != nil {
		return ar, nil, err
	}
	resp, err := c.provider.NewAccessResponse(ctx, ar)
	return ar, resp, err
}

// WriteTokenResponse writes a token response (RFC 6749 §5.1).
func (c *Core) WriteTokenResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, resp fosite.AccessResponder) {
	c.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// WriteTokenError writes an RFC 6749 §5.2 error; ar may be nil. The
// error_description is one sentence that says what is wrong — the error's
// hint when it has one — rather than fosite's generic description followed
// by the hint; debug details and causes never reach the client.
func (c *Core) WriteTokenError(_ context.Context, w http.ResponseWriter, _ fosite.AccessRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	code, status, desc := rfc.ErrorField, rfc.CodeField, rfc.HintField
	if desc == "" {
		desc = rfc.DescriptionField
	}
	if status < 400 || status > 599 || code == "" || code == "error" {
		code, status, desc = fosite.ErrServerError.ErrorField, http.StatusInternalServerError, "The server could not complete the request."
	}
	body, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// AuthenticateClient authenticates the client of an HTTP request by its
// configured method (see authenticateClientStrategy). It returns our Client.
func (c *Core) AuthenticateClient(ctx context.Context, r *http.Request, form url.Values) (*Client, error) {
	cl, err := c.authenticateClientStrategy(ctx, r, form)
	if err != nil {
		return nil, err
	}
	return cl.(*Client), nil
}

// GrantScopesAndAudience applies the scope and audience rules to a token
// request: requested scopes must be among the client's (invalid_scope
// otherwise) and requested audiences among its audience (invalid_target); a
// request without scope is granted all the client's scopes, without audience
// all its audience.
func GrantScopesAndAudience(ar fosite.AccessRequester, cl fosite.Client) error {
	err := grantWithin(ar.GetRequestedScopes(), cl.GetScopes(), ar.GrantScope, func(s string) error {
		return fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope %q.", s)
	})
	if err != nil {
		return err
	}
	return grantWithin(ar.GetRequestedAudience(), cl.GetAudience(), ar.GrantAudience, func(a string) error {
		return ErrInvalidTarget.WithHintf("The client is not allowed to request audience %q.", a)
	})
}

// grantWithin grants each requested value, all of which must be among
// allowed (else the error refuse makes for the first that is not); a
// request for nothing is granted all of allowed.
func grantWithin(requested, allowed fosite.Arguments, grant func(string), refuse func(string) error) error {
	for _, v := range requested {
		if !allowed.Has(v) {
			return refuse(v)
		}
	}
	if len(requested) == 0 {
		requested = allowed
	}
	for _, v := range requested {
		grant(v)
	}
	return nil
}

// providerStore is the storage fosite sees: the database store plus the
// client manager, which reads the config snapshot rather than the database.
type providerStore struct {
	*storage.Store
	core *Core
}

var _ fosite.Storage = (*providerStore)(nil)

// GetClient returns the snapshot's client.
func (p *providerStore) GetClient(_ context.Context, id string) (fosite.Client, error) {
	if cl := p.core.clients[id]; cl != nil {
		return cl, nil
	}
	return nil, fosite.ErrNotFound
}

// ClientAssertionJWTValid is unused: client assertions are checked by
// authenticateClientStrategy through inbound, which records jtis itself.
func (p *providerStore) ClientAssertionJWTValid(context.Context, string) error {
	return fmt.Errorf("core: fosite's client assertion storage is not used")
}

// SetClientAssertionJWT is unused; see ClientAssertionJWTValid.
func (p *providerStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return fmt.Errorf("core: fosite's client assertion storage is not used")
}

// secretHasher satisfies fosite's hasher with secrethash; fosite's own client
// authentication (which would call it) is replaced by ours.
type secretHasher struct{}

func (secretHasher) Compare(_ context.Context, hash, data []byte) error {
	ok, err := secrethash.Verify(string(hash), string(data))
	if err != nil {
		return err
	}
	if !ok {
		return fosite.ErrInvalidClient
	}
	return nil
}

func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	h, err := secrethash.Hash(string(data))
	return []byte(h), err
}
