package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// token serves POST /oauth2/token (RFC 6749 §3.2). The glue parses the form
// under the body limit (413), answers an unserved grant_type with
// unsupported_grant_type (fosite says invalid_request), and adds
// WWW-Authenticate to 401s; fosite writes the body.
func (h *Handler) token(c *gin.Context) {
	w, r := challengeWriter{c.Writer}, c.Request
	if !parseForm(w, r) {
		return
	}
	grant := r.PostForm.Get("grant_type")
	if grant == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "The grant_type parameter is missing.")
		return
	}
	if !h.core.SupportsGrant(grant) {
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant_type "+quote(grant)+" is not supported by this server.")
		return
	}
	ctx := r.Context()
	ar, resp, err := h.core.TokenRequest(ctx, r)
	if err != nil {
		h.logFailure(c, err)
		h.core.WriteTokenError(ctx, w, ar, err)
		return
	}
	h.core.WriteTokenResponse(ctx, w, ar, resp)
	if h.onIssued != nil {
		h.onIssued(grant)
	}
}

// quote shortens and quotes a caller-supplied value for an error message.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + s + `"`
}
