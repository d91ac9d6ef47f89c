package legacy

import (
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/surface"
)

// maxKeyLength bounds the key part of the Basic credentials: a grant id is
// 36 characters, so anything much longer is no key of ours.
const maxKeyLength = 128

// Reasons parseKeyToken gives for refusing a request's credentials.
var (
	errNoBasic  = errors.New("legacy: no Basic credentials")
	errBadBasic = errors.New("legacy: malformed Basic credentials")
)

// parseKeyToken reads "Authorization: Basic base64(key:token)" strictly:
// standard base64 with padding, split at the first colon, both parts
// non-empty, nothing form-unescaped (a key or token is taken byte for
// byte). A request without Basic credentials is errNoBasic, malformed ones
// errBadBasic.
func parseKeyToken(r *http.Request) (key, token string, err error) {
	key, token, ok, berr := surface.RawBasic(r)
	switch {
	case !ok:
		return "", "", errNoBasic
	case berr != nil:
		return "", "", errBadBasic
	case len(key) > maxKeyLength:
		return "", "", errBadBasic
	}
	return key, token, nil
}

// principalKey is where authenticate leaves the request's principal.
const principalKey = "legacy.principal"

// authenticate is the Basic key:token middleware: the token must be an
// active user access token (checked by the core: signature or session,
// expiry, revocation, the user active) issued to one of the legacy clients,
// and key must be its grant (compared in constant time). Every refusal is
// 401 with a Basic challenge; a database that does not answer is 503.
func (h *handler) authenticate(c *gin.Context) {
	key, token, err := parseKeyToken(c.Request)
	switch {
	case errors.Is(err, errNoBasic):
		errUnauthorized(c, "invalid_token", "Send Authorization: Basic base64(key:token), with the key and token of a login.")
		return
	case err != nil:
		errUnauthorized(c, "invalid_token", "The Basic credentials must be base64(key:token), with a non-empty key and token.")
		return
	}
	p, err := h.core.Authenticate(c.Request.Context(), token)
	switch {
	case errors.Is(err, core.ErrUnauthenticated):
		errBadToken(c)
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	if p.Kind != core.KindUser || p.User == nil || !h.isLegacyClient(p.Client) || !sameGrant(key, p.GrantID) {
		errBadToken(c)
		return
	}
	c.Set(principalKey, p)
	c.Next()
}

// sameGrant compares a presented key with a grant id in constant time; an
// empty grant id matches nothing.
func sameGrant(key, grantID string) bool {
	return grantID != "" && subtle.ConstantTimeCompare([]byte(key), []byte(grantID)) == 1
}

// errBadToken is the one answer to credentials that are well formed but
// not a live login: a wrong key, an unknown, expired or revoked token, a
// token of another client, a deactivated user.
func errBadToken(c *gin.Context) {
	errUnauthorized(c, "invalid_token", "The key and token are not a valid login: the token is unknown, expired or revoked, or the key is not its own. Log in again.")
}

// principal returns what authenticate found.
func principal(c *gin.Context) *core.Principal {
	p, _ := c.MustGet(principalKey).(*core.Principal)
	return p
}
