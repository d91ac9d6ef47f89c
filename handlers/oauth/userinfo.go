package oauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/core"
)

// UserinfoPath is the userinfo endpoint's path.
const UserinfoPath = "/oauth2/userinfo"

// userinfo serves GET and POST /oauth2/userinfo (OpenID Connect Core §5.3
// shape) for any active user access token, no openid scope needed; a
// client_credentials token, an inactive token or a deactivated user gets 401
// invalid_token (RFC 6750 §3).
func (h *Handler) userinfo(c *gin.Context) {
	cr := h.Current()
	token, ok := bearerToken(c.Request)
	if !ok {
		bearerChallenge(c.Writer, "invalid_request", "Send the access token as Authorization: Bearer <token>.")
		return
	}
	info, err := cr.ValidateToken(c.Request.Context(), token, fosite.AccessToken)
	if err != nil {
		h.logFailure(c, core.ServerError(err))
		writeError(c.Writer, http.StatusInternalServerError, "server_error", "The token could not be checked.")
		return
	}
	if info == nil || info.Use != fosite.AccessToken {
		bearerChallenge(c.Writer, "invalid_token", "The access token is invalid, expired or revoked.")
		return
	}
	if info.Session.Kind != core.KindUser {
		bearerChallenge(c.Writer, "invalid_token", "The access token is not a user's token (client_credentials tokens have no userinfo).")
		return
	}
	user, err := cr.Accounts.Get(c.Request.Context(), info.Session.Realm, info.Session.Subject)
	switch {
	case errors.Is(err, accounts.ErrNotFound) || (err == nil && user.Status != accounts.StatusActive):
		bearerChallenge(c.Writer, "invalid_token", "The token's user no longer exists or is deactivated.")
		return
	case err != nil:
		h.logFailure(c, core.ServerError(err))
		writeError(c.Writer, http.StatusInternalServerError, "server_error", "The user could not be read.")
		return
	}
	claims := map[string]any{"sub": user.ID}
	for k, v := range map[string]string{
		"preferred_username": user.Username,
		"email":              user.Email,
		"given_name":         user.FirstName,
		"family_name":        user.LastName,
	} {
		if v != "" {
			claims[k] = v
		}
	}
	if name := strings.TrimSpace(user.FirstName + " " + user.LastName); name != "" {
		claims["name"] = name
	}
	writeJSON(c.Writer, http.StatusOK, claims)
}

// bearerToken reads an RFC 6750 §2.1 Authorization: Bearer header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// bearerChallenge answers 401 with an RFC 6750 §3 challenge.
func bearerChallenge(w http.ResponseWriter, code, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="`+code+`", error_description="`+description+`"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": code, "error_description": description})
}
