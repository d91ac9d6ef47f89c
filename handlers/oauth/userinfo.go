package oauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/surface"
)

// UserinfoPath is the userinfo endpoint's path.
const UserinfoPath = "/oauth2/userinfo"

// userinfo serves GET and POST /oauth2/userinfo (OpenID Connect Core §5.3
// shape) for any active user access token, no openid scope needed (email
// only with the email scope, as §5.4 says); a
// client_credentials token, an inactive token or a deactivated user gets 401
// invalid_token (RFC 6750 §3).
func (h *Handler) userinfo(c *gin.Context) {
	token, ok := surface.Bearer(c.Request)
	if !ok {
		bearerChallenge(c.Writer, "invalid_request", "Send the access token as Authorization: Bearer <token>.")
		return
	}
	p, err := h.core.Authenticate(c.Request.Context(), token)
	switch {
	case errors.Is(err, core.ErrUnauthenticated):
		bearerChallenge(c.Writer, "invalid_token", "The access token is invalid, expired or revoked, or its user is deactivated.")
		return
	case err != nil:
		err = core.ServerError(err)
		h.logFailure(c, err)
		writeError(challengeWriter{c.Writer}, http.StatusServiceUnavailable, "temporarily_unavailable", "The token could not be checked; retry in a moment.")
		return
	case p.User == nil:
		bearerChallenge(c.Writer, "invalid_token", "The access token is not a user's token (client_credentials tokens have no userinfo).")
		return
	}
	user := p.User
	claims := map[string]any{"sub": user.ID}
	for k, v := range map[string]string{
		"preferred_username": user.Username,
		"given_name":         user.FirstName,
		"family_name":        user.LastName,
	} {
		if v != "" {
			claims[k] = v
		}
	}
	// OpenID Connect Core §5.4: the e-mail address is released only to a
	// token granted the email scope.
	if user.Email != "" && p.HasScope("email") {
		claims["email"] = user.Email
	}
	if name := strings.TrimSpace(user.FirstName + " " + user.LastName); name != "" {
		claims["name"] = name
	}
	writeJSON(c.Writer, http.StatusOK, claims)
}

// bearerChallenge answers 401 with an RFC 6750 §3 challenge.
func bearerChallenge(w http.ResponseWriter, code, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="`+code+`", error_description="`+description+`"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": code, "error_description": description})
}
