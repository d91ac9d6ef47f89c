package core

import (
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
)

// Client adapts a config client to fosite's client interfaces. It is built
// once per snapshot and never modified.
type Client struct {
	*config.Client
	grantTypes fosite.Arguments
	scopes     fosite.Arguments
	audience   fosite.Arguments
}

var (
	_ fosite.Client                         = (*Client)(nil)
	_ fosite.ClientWithCustomTokenLifespans = (*Client)(nil)
)

func newClient(c *config.Client) *Client {
	return &Client{
		Client:     c,
		grantTypes: fosite.Arguments(c.GrantTypes),
		scopes:     fosite.Arguments(c.Scopes),
		audience:   fosite.Arguments(c.Audience),
	}
}

// GetID returns the client id.
func (c *Client) GetID() string { return c.ID }

// GetHashedSecret returns the stored secret hash (sha256:… or argon2id).
func (c *Client) GetHashedSecret() []byte { return []byte(c.SecretHash) }

// GetRedirectURIs returns the client's registered redirect URIs.
func (c *Client) GetRedirectURIs() []string { return c.RedirectURIs }

// GetGrantTypes returns the grant types the client may use.
func (c *Client) GetGrantTypes() fosite.Arguments { return c.grantTypes }

// GetResponseTypes returns ["code"] for a client with the
// authorization_code grant, else nil: code is the only response type.
func (c *Client) GetResponseTypes() fosite.Arguments {
	if c.HasGrant(config.GrantAuthorizationCode) {
		return fosite.Arguments{"code"}
	}
	return nil
}

// GetScopes returns the scopes the client may be granted.
func (c *Client) GetScopes() fosite.Arguments { return c.scopes }

// IsPublic reports whether the client authenticates with "none".
func (c *Client) IsPublic() bool { return c.AuthMethod == config.AuthNone }

// GetAudience returns the audiences the client's tokens may carry.
func (c *Client) GetAudience() fosite.Arguments { return c.audience }

// GetEffectiveLifespan applies the client's access_token_ttl and
// refresh_token_ttl overrides.
func (c *Client) GetEffectiveLifespan(_ fosite.GrantType, tt fosite.TokenType, fallback time.Duration) time.Duration {
	switch {
	case tt == fosite.AccessToken && c.AccessTokenTTL > 0:
		return c.AccessTokenTTL
	case tt == fosite.RefreshToken && c.RefreshTokenTTL > 0:
		return c.RefreshTokenTTL
	}
	return fallback
}
