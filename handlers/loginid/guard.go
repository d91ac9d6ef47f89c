package loginid

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/surface"
	"github.com/latchkey/latchkey/inbound"
)

// routePathKey holds, in the gin context, the matched route's table path.
const routePathKey = "loginid.route"

// caller is who sent a request that passed the guard: a service token, a
// client_credentials access token, or nobody (an Optional route without a
// token).
type caller struct {
	token     *inbound.ServiceToken
	principal *core.Principal
}

// guard checks the request's token against rt before rt's handler runs:
// a route without a scope takes none (400 when one is sent); without a
// token a "Yes" route is 401 and an "Optional" one goes on;
// with one, the token is checked in full — a service token by inbound
// (its nonce is used up later, by the handler, last), an access token by
// core as an active client_credentials token — and must carry rt's scope
// (else 403).
func (h *handler) guard(rt route) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(routePathKey, rt.Path)
		cl, ok := h.authenticate(c, rt)
		if ok {
			rt.serve(h, c, cl)
		}
	}
}

func (h *handler) authenticate(c *gin.Context, rt route) (*caller, bool) {
	if rt.Scope == "" {
		// A ceremony's complete: the challenge is the proof. A token sent
		// anyway is refused rather than ignored — LoginID gives these
		// routes no scope to check it against, and ignoring it would let
		// its sender believe its bindings (a username) held.
		if c.GetHeader("Authorization") != "" {
			badParameter(c, c.Request.Method+" "+c.FullPath()+" takes no token, as the ceremony's challenge is the proof: send it without an Authorization header.")
			return nil, false
		}
		return &caller{}, true
	}
	raw, hasToken := surface.Bearer(c.Request)
	switch {
	case !hasToken && c.GetHeader("Authorization") != "":
		unauthorized(c, "The Authorization header must be Bearer followed by a service token.")
		return nil, false
	case !hasToken && rt.Required:
		unauthorized(c, "This route needs a service token with scope "+rt.Scope+": send it as Authorization: Bearer <token>.")
		return nil, false
	case !hasToken:
		return &caller{}, true
	case isAccessToken(raw):
		return h.authenticateAccessToken(c, rt, raw)
	}
	st, err := inbound.VerifyServiceToken(raw, h.core.Snapshot(), c.GetHeader("X-Client-ID"), h.core.Now())
	switch {
	case errors.Is(err, inbound.ErrScopeNotAllowed):
		forbidden(c, "The service token is not allowed: "+strings.TrimPrefix(inbound.Reason(err), "scope not allowed: ")+".")
	case err != nil:
		unauthorized(c, "The service token is not valid: "+strings.TrimPrefix(inbound.Reason(err), "invalid token: ")+".")
	case !st.HasScope(rt.Scope):
		forbidden(c, "The service token lacks scope "+rt.Scope+", which this route needs; sign the token with it.")
	default:
		return &caller{token: st}, true
	}
	return nil, false
}

// authenticateAccessToken accepts an active client_credentials access
// token of the core that carries rt's scope; a user's token never does.
func (h *handler) authenticateAccessToken(c *gin.Context, rt route, raw string) (*caller, bool) {
	p, err := h.core.Authenticate(c.Request.Context(), raw)
	switch {
	case errors.Is(err, core.ErrUnauthenticated):
		unauthorized(c, "The access token is not active.")
	case err != nil:
		h.fail(c, err)
	case p.Kind != core.KindClient || p.Client == nil:
		unauthorized(c, "A user's access token does not authorize this route; send a service token, or a client_credentials access token with scope "+rt.Scope+".")
	case !p.HasScope(rt.Scope) && !(rt.Scope == inbound.ForceAddScope && p.HasScope(inbound.ForceAddAlias)):
		forbidden(c, "The access token lacks scope "+rt.Scope+", which this route needs.")
	default:
		return &caller{principal: p}, true
	}
	return nil, false
}

// isAccessToken tells the core's access tokens (opaque lk_at_ tokens and
// RFC 9068 JWTs, typ at+jwt) from service tokens (typ JWT or none).
func isAccessToken(raw string) bool {
	if strings.HasPrefix(raw, core.AccessTokenPrefix) {
		return true
	}
	tok, err := inbound.Parse(raw, 0)
	return err == nil && strings.EqualFold(tok.Header.Typ, "at+jwt")
}

// actor is who a request acts as, once its body is read: the realm, and
// the API credential (nil for an access token whose request names none).
type actor struct {
	realm *config.Realm
	cred  *config.APICredential
	// clientID is the LoginID client the response names: the credential,
	// or the OAuth client.
	clientID string
}

// actor resolves the request's realm and credential from the caller and
// the body's client_id: with a service token, client_id (when sent) must
// name the token's credential; with an access token, an API credential of
// the token's realm; without a token it is required and names the
// credential (X-Client-ID, when sent, must agree). On failure it has
// answered.
func (h *handler) actor(c *gin.Context, cl *caller, bodyClientID string) (*actor, bool) {
	snap := h.core.Snapshot()
	var cred *config.APICredential
	var realmID, clientID string
	switch {
	case cl.token != nil:
		cred = cl.token.Credential
		if bodyClientID != "" && !equal(bodyClientID, cred.ID) {
			unauthorized(c, "The body's client_id names another API credential than the service token's client_id.")
			return nil, false
		}
		realmID, clientID = cred.Realm, cred.ID
	case cl.principal != nil:
		realmID, clientID = cl.principal.Realm, cl.principal.Client.ID
		if bodyClientID != "" {
			cred = snap.APICredential(bodyClientID)
			if cred == nil || cred.Realm != realmID {
				unauthorized(c, "The body's client_id names no API credential of the access token's realm.")
				return nil, false
			}
			clientID = cred.ID
		}
	default:
		if bodyClientID == "" {
			badParameter(c, "Send a service token, or name your API credential in the body's client_id.")
			return nil, false
		}
		if x := c.GetHeader("X-Client-ID"); x != "" && !equal(x, bodyClientID) {
			badParameter(c, "The X-Client-ID header names another API credential than the body's client_id.")
			return nil, false
		}
		if cred = snap.APICredential(bodyClientID); cred == nil {
			badParameter(c, "The body's client_id names no API credential.")
			return nil, false
		}
		realmID, clientID = cred.Realm, cred.ID
	}
	realm := snap.Realm(realmID)
	if realm == nil {
		h.fail(c, errors.New("loginid: the caller's realm is not declared"))
		return nil, false
	}
	return &actor{realm: realm, cred: cred, clientID: clientID}, true
}

// namesOther reports whether the service token names a user (username or
// user_id) other than the one the request names by username and/or
// userID. Only names present on both sides are compared: call it before
// reading the user, and userMismatch after.
func (cl *caller) namesOther(username, userID string) bool {
	if cl.token == nil {
		return false
	}
	if t := cl.token.UserID; t != "" && userID != "" && !equal(t, userID) {
		return true
	}
	if t := cl.token.Username; t != "" && username != "" && !equal(accounts.Normalize(t), accounts.Normalize(username)) {
		return true
	}
	return false
}

// userMismatch reports whether the service token names a user other than
// u (a user without a username is never the token's username).
func (cl *caller) userMismatch(u *accounts.User) bool {
	if cl.token == nil {
		return false
	}
	if t := cl.token.UserID; t != "" && !equal(t, u.ID) {
		return true
	}
	if t := cl.token.Username; t != "" && (u.Username == "" || !equal(accounts.Normalize(t), accounts.Normalize(u.Username))) {
		return true
	}
	return false
}

// errOtherUser is the message of a token bound to another user.
const errOtherUser = "The service token names another user than the request; sign a token for this user."

// errReplayed carries a replayed nonce out of a transaction.
var errReplayed = errors.New("loginid: service token replayed")

// consume uses up the service token's nonce (in ctx's transaction, if
// any); a caller without a service token has nothing to use up.
func (h *handler) consume(ctx context.Context, cl *caller) error {
	if cl.token == nil {
		return nil
	}
	if err := cl.token.Consume(ctx, h.core); err != nil {
		if errors.Is(err, inbound.ErrReplayed) {
			return errReplayed
		}
		return dbError("record the nonce", err)
	}
	return nil
}

// replayed answers a service token whose nonce was used before.
func replayed(c *gin.Context) {
	unauthorized(c, "The service token's nonce was already used; sign a new token for every request.")
}

// equal compares two strings in constant time (for their common length).
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
