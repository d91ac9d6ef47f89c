package core

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/inbound"
	"github.com/latchkey/latchkey/secrethash"
)

// ClientAssertionType is the only client_assertion_type accepted (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLifetime caps exp - iat of a client assertion.
const MaxAssertionLifetime = 5 * time.Minute

// AuthenticateClient implements fosite.ClientAuthenticationStrategy for one
// snapshot: client_secret_basic, client_secret_post, private_key_jwt
// (RFC 7523 §2.2, through inbound) and none. A client must use exactly the
// method it is configured for. Every failure is invalid_client (401).
func (c *Core) AuthenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return c.authenticateAssertion(ctx, form)
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		id, secret, err := basicCredentials(auth)
		if err != nil {
			return nil, fosite.ErrInvalidClient.WithHint(err.Error())
		}
		if form.Has("client_secret") {
			return nil, fosite.ErrInvalidClient.WithHint("Use one client authentication method, not HTTP Basic and client_secret together.")
		}
		return c.authenticateSecret(id, secret, config.AuthSecretBasic)
	}
	id := form.Get("client_id")
	if id == "" {
		return nil, fosite.ErrInvalidClient.WithHint("Client authentication is required: send HTTP Basic credentials, client_id and client_secret, or a client assertion.")
	}
	if form.Has("client_secret") {
		return c.authenticateSecret(id, form.Get("client_secret"), config.AuthSecretPost)
	}
	cl := c.clients[id]
	if cl == nil || cl.AuthMethod != config.AuthNone {
		return nil, errClientAuth
	}
	return cl, nil
}

// errClientAuth is the one answer for an unknown client, a wrong secret and a
// wrong method, so a caller cannot probe which client ids exist.
var errClientAuth = fosite.ErrInvalidClient.WithHint("Client authentication failed (unknown client, wrong credentials, or a method the client is not configured for).")

func (c *Core) authenticateSecret(id, secret, method string) (fosite.Client, error) {
	cl := c.clients[id]
	if cl == nil || cl.AuthMethod != method || cl.SecretHash == "" {
		return nil, errClientAuth
	}
	ok, err := secrethash.Verify(cl.SecretHash, secret)
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug("stored client secret hash is malformed")
	}
	if !ok {
		return nil, errClientAuth
	}
	return cl, nil
}

// basicCredentials decodes an RFC 6749 §2.3.1 Basic header: both parts are
// form-urlencoded before base64.
func basicCredentials(header string) (id, secret string, err error) {
	scheme, value, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", errors.New("The Authorization header must use the Basic scheme for client authentication.")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return "", "", errors.New("The Basic credentials are not valid base64.")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("The Basic credentials must be client_id:client_secret.")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", errors.New("The Basic client_id is not form-urlencoded.")
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", errors.New("The Basic client_secret is not form-urlencoded.")
	}
	if id == "" {
		return "", "", errors.New("The Basic credentials have an empty client_id.")
	}
	return id, secret, nil
}

func (c *Core) authenticateAssertion(ctx context.Context, form url.Values) (fosite.Client, error) {
	if form.Get("client_assertion_type") != ClientAssertionType {
		return nil, fosite.ErrInvalidClient.WithHintf("client_assertion_type must be %q.", ClientAssertionType)
	}
	tok, err := inbound.Parse(form.Get("client_assertion"), 0)
	if err != nil {
		return nil, fosite.ErrInvalidClient.WithHint(inbound.Reason(err))
	}
	id := tok.Claims.Issuer
	if id == "" || tok.Claims.Subject != id {
		return nil, fosite.ErrInvalidClient.WithHint(`The client assertion's "iss" and "sub" must both be the client_id.`)
	}
	if fid := form.Get("client_id"); fid != "" && fid != id {
		return nil, fosite.ErrInvalidClient.WithHint("client_id does not match the client assertion's issuer.")
	}
	cl := c.clients[id]
	if cl == nil || cl.AuthMethod != config.AuthPrivateKeyJWT {
		return nil, errClientAuth
	}
	rules := inbound.Rules{
		Kind:            "client_assertion",
		Audiences:       []string{c.Snap.Issuer, c.TokenURL},
		RequireAudience: true,
		RequireJTI:      true,
		RequireIssuedAt: true,
		MaxLifetime:     MaxAssertionLifetime,
		Leeway:          c.Snap.Tokens.Leeway,
	}
	err = tok.Verify(cl.PublicKeys, rules, c.now())
	if err == nil {
		err = tok.Consume(ctx, id, rules, c.Store)
	}
	if err != nil {
		if errors.Is(err, inbound.ErrInvalid) || errors.Is(err, inbound.ErrReplayed) {
			return nil, fosite.ErrInvalidClient.WithHint(inbound.Reason(err))
		}
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	return cl, nil
}
