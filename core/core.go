package core

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// GrantFactory builds a grant for one Core.
type GrantFactory func(c *Core) Grant

// Core is everything that one config snapshot needs to issue, validate and
// revoke tokens: the fosite provider built for it, its clients and its
// strategy. A Core is immutable once New returns; a reload builds a new one.
type Core struct {
	Snap     *config.Snapshot
	Store    *storage.Store
	Provider fosite.OAuth2Provider
	Config   *fosite.Config
	Strategy *TokenStrategy
	// Accounts holds users and the one password check; shared by every
	// core of the process (it outlives reloads).
	Accounts *accounts.Service
	// TokenURL is the exact public URL of the token endpoint.
	TokenURL string

	clients map[string]*Client
	grants  map[string]bool
	now     func() time.Time
}

// Options tune New; the zero value is production.
type Options struct {
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// Accounts is the process's user service.
	Accounts *accounts.Service
}

// New builds the provider for snap on store, with the given grants. It is
// the one place a fosite provider is composed.
func New(snap *config.Snapshot, store *storage.Store, opts Options, grants ...GrantFactory) (*Core, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	strategy, err := NewTokenStrategy(snap, now)
	if err != nil {
		return nil, err
	}
	c := &Core{
		Snap:     snap,
		Store:    store,
		Strategy: strategy,
		Accounts: opts.Accounts,
		TokenURL: snap.Issuer + TokenPath,
		clients:  make(map[string]*Client, len(snap.Clients)),
		grants:   make(map[string]bool, len(grants)),
		now:      now,
	}
	for _, cl := range snap.Clients {
		c.clients[cl.ID] = newClient(cl)
	}
	// Every lazily defaulted getter is set here: fosite fills them on first
	// use without a lock, which races under concurrent first requests.
	c.Config = &fosite.Config{
		AccessTokenLifespan:          snap.Tokens.AccessTokenTTL,
		RefreshTokenLifespan:         snap.Tokens.RefreshTokenTTL,
		AccessTokenIssuer:            snap.Issuer,
		IDTokenIssuer:                snap.Issuer,
		TokenURL:                     c.TokenURL,
		ScopeStrategy:                fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:     fosite.ExactAudienceMatchingStrategy,
		ClientSecretsHasher:          secretHasher{},
		JWKSFetcherStrategy:          fosite.NewDefaultJWKSFetcherStrategy(),
		RefreshTokenScopes:           []string{},
		ClientAuthenticationStrategy: c.AuthenticateClient,
		SendDebugMessagesToClients:   false,
	}
	internal := &internalGrant{core: c}
	factories := []compose.Factory{
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		func(fosite.Configurator, any, any) any { return internal },
	}
	for _, build := range grants {
		g := build(c)
		c.grants[g.GrantType()] = true
		factories = append(factories, func(fosite.Configurator, any, any) any { return g })
	}
	c.Provider = compose.Compose(c.Config, &providerStore{Store: store, core: c}, strategy, factories...)
	return c, nil
}

// Now returns the current time on the core's clock.
func (c *Core) Now() time.Time { return c.now() }

// Client returns the fosite client for id, or nil.
func (c *Core) Client(id string) *Client { return c.clients[id] }

// SupportsGrant reports whether grant_type is served by some handler.
func (c *Core) SupportsGrant(grantType string) bool { return c.grants[grantType] }

// GrantTypes lists the served grant types (for discovery).
func (c *Core) GrantTypes() []string {
	out := make([]string, 0, len(c.grants))
	for _, g := range []string{config.GrantClientCredentials, config.GrantPassword, config.GrantRefreshToken, config.GrantJWTBearer} {
		if c.grants[g] {
			out = append(out, g)
		}
	}
	return out
}

// GrantScopesAndAudience applies SPEC §3 to a token request: requested
// scopes must be among the client's (invalid_scope otherwise) and requested
// audiences among its audience (invalid_target); a request without scope is
// granted all the client's scopes, without audience all its audience.
func GrantScopesAndAudience(ar fosite.AccessRequester, cl fosite.Client) error {
	allowed := cl.GetScopes()
	requested := ar.GetRequestedScopes()
	for _, s := range requested {
		if !allowed.Has(s) {
			return fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope %q.", s)
		}
	}
	if len(requested) == 0 {
		requested = allowed
	}
	for _, s := range requested {
		ar.GrantScope(s)
	}
	allowedAud := cl.GetAudience()
	requestedAud := ar.GetRequestedAudience()
	for _, a := range requestedAud {
		if !allowedAud.Has(a) {
			return ErrInvalidTarget.WithHintf("The client is not allowed to request audience %q.", a)
		}
	}
	if len(requestedAud) == 0 {
		requestedAud = allowedAud
	}
	for _, a := range requestedAud {
		ar.GrantAudience(a)
	}
	return nil
}

// ServerError wraps a storage or internal error so fosite answers a proper
// RFC 6749 server_error rather than {"error":"error"}.
func ServerError(err error) error {
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) {
		return err
	}
	return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
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
// AuthenticateClient through inbound, which records jtis itself.
func (p *providerStore) ClientAssertionJWTValid(context.Context, string) error {
	return fmt.Errorf("core: fosite's client assertion storage is not used")
}

// SetClientAssertionJWT is unused; see ClientAssertionJWTValid.
func (p *providerStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return fmt.Errorf("core: fosite's client assertion storage is not used")
}

// secretHasher satisfies fosite's hasher with secrethash; fosite's own client
// authentication (which would call it) is replaced by AuthenticateClient.
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

// ErrInvalidTarget is RFC 8707 §2's error for an audience the client may not
// request (fosite has no such error).
var ErrInvalidTarget = &fosite.RFC6749Error{
	ErrorField:       "invalid_target",
	DescriptionField: "The requested audience is invalid, unknown, or not allowed for this client.",
	CodeField:        400,
}
