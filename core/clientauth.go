package core

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/inbound"
	"github.com/latchkey/latchkey/secrethash"
)

// ClientAssertionType is the only client_assertion_type accepted (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLifetime caps exp - iat of a client assertion.
const MaxAssertionLifetime = 5 * time.Minute

// authenticateClientStrategy implements fosite.ClientAuthenticationStrategy
// for one snapshot: client_secret_basic, client_secret_post, private_key_jwt
// (RFC 7523 §2.2, through inbound) and none. A client must use exactly the
// method it is configured for, and a request must use exactly one method
// (RFC 6749 §2.3): HTTP Basic, client_secret in the body and a client
// assertion are exclusive (invalid_request). Every other failure is
// invalid_client (401).
func (c *Core) authenticateClientStrategy(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	hasBasic := r.Header.Get("Authorization") != ""
	hasSecret := form.Has("client_secret")
	hasAssertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	if n := btoi(hasBasic) + btoi(hasSecret) + btoi(hasAssertion); n > 1 {
		return nil, errManyMethods
	}
	switch {
	case hasAssertion:
		return c.authenticateAssertion(ctx, form)
	case hasBasic:
		id, secret, err := basicCredentials(r.Header.Get("Authorization"))
		if err != nil {
			return nil, fosite.ErrInvalidClient.WithHint(err.Error())
		}
		return c.authenticateSecret(ctx, id, secret, config.AuthSecretBasic)
	}
	id := form.Get("client_id")
	if id == "" {
		return nil, fosite.ErrInvalidClient.WithHint("Client authentication is required: send HTTP Basic credentials, client_id and client_secret, or a client assertion.")
	}
	if hasSecret {
		return c.authenticateSecret(ctx, id, form.Get("client_secret"), config.AuthSecretPost)
	}
	cl := c.clients[id]
	if cl == nil || cl.AuthMethod != config.AuthNone {
		return nil, errClientAuth
	}
	return cl, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// errManyMethods answers a request that authenticates its client twice.
var errManyMethods = fosite.ErrInvalidRequest.WithHint("Use exactly one client authentication method: HTTP Basic, client_secret in the body, or a client assertion.")

// errClientAuth is the one answer for an unknown client, a wrong secret and a
// wrong method, so a caller cannot probe which client ids exist.
var errClientAuth = fosite.ErrInvalidClient.WithHint("Client authentication failed (unknown client, wrong credentials, or a method the client is not configured for).")

// authenticateSecret checks a client secret. An unknown client, or one
// configured for another method, is checked against the snapshot's dummy
// hash, so that it costs what a wrong secret of a known client costs and
// client ids cannot be probed by time. argon2id hashes run under the
// process's bound on slow hashes (beyond it: temporarily_unavailable).
func (c *Core) authenticateSecret(ctx context.Context, id, secret, method string) (fosite.Client, error) {
	cl := c.clients[id]
	known := cl != nil && cl.AuthMethod == method && cl.SecretHash != ""
	hash := c.dummySecretHash
	if known {
		hash = cl.SecretHash
	}
	ok, err := c.accounts.VerifySecret(ctx, hash, secret)
	switch {
	case errors.Is(err, accounts.ErrBusy):
		return nil, fosite.ErrTemporarilyUnavailable.WithHint("Too many client authentications at once; retry in a moment.").WithWrap(err)
	case err != nil:
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug("stored client secret hash is malformed")
	case !ok || !known:
		return nil, errClientAuth
	}
	return cl, nil
}

// dummySecretHash returns the hash that unknown clients are checked
// against: an argon2id hash with the parameters of the snapshot's first
// argon2id client secret when there is one (so an unknown id costs what that
// client's wrong secret costs), else a SHA-256 one.
func dummySecretHash(snap *config.Snapshot) (string, error) {
	random := secrethash.Generate()
	for _, cl := range snap.Clients {
		if !secrethash.IsSlow(cl.SecretHash) {
			continue
		}
		params, _, _, err := argon2id.DecodeHash(cl.SecretHash)
		if err != nil {
			return "", fmt.Errorf("core: client %q: secret_hash: %w", cl.ID, err)
		}
		h, err := argon2id.CreateHash(random, params)
		if err != nil {
			return "", fmt.Errorf("core: dummy client secret hash: %w", err)
		}
		return h, nil
	}
	return secrethash.Hash(random)
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
		Audiences:       []string{c.snap.Issuer, c.tokenURL},
		RequireAudience: true,
		RequireJTI:      true,
		RequireIssuedAt: true,
		MaxLifetime:     MaxAssertionLifetime,
		Leeway:          c.snap.Tokens.Leeway,
	}
	err = tok.Verify(cl.PublicKeys, rules, c.now())
	if err == nil {
		err = tok.Consume(ctx, id, rules, c.store)
	}
	if err != nil {
		if errors.Is(err, inbound.ErrInvalid) || errors.Is(err, inbound.ErrReplayed) {
			return nil, fosite.ErrInvalidClient.WithHint(inbound.Reason(err))
		}
		return nil, ServerError(err)
	}
	return cl, nil
}
