package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/core"
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
	cr := h.Current()
	grant := r.PostForm.Get("grant_type")
	if grant == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "The grant_type parameter is missing.")
		return
	}
	if !cr.SupportsGrant(grant) {
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant_type "+quote(grant)+" is not supported by this server.")
		return
	}
	ctx := r.Context()
	ar, err := cr.Provider.NewAccessRequest(ctx, r, core.NewSession())
	if err != nil {
		h.logFailure(c, err)
		cr.Provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := cr.Provider.NewAccessResponse(ctx, ar)
	if err != nil {
		h.logFailure(c, err)
		cr.Provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	cr.Provider.WriteAccessResponse(ctx, w, ar, resp)
	if h.OnIssued != nil {
		h.OnIssued(grant)
	}
}

// quote shortens and quotes a caller-supplied value for an error message.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + s + `"`
}
