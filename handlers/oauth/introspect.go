package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/core"
)

// introspect serves POST /oauth2/introspect (RFC 7662). The caller
// authenticates as a confidential client by its configured method (not
// fosite's NewIntrospectionRequest, which accepts only Basic or Bearer and
// shows every token to everyone); a token outside the caller's realm, or
// inactive, unknown or expired, is exactly {"active":false}. A database
// that does not answer is 503 with Retry-After, never "inactive".
func (h *Handler) introspect(c *gin.Context) {
	w, r := challengeWriter{c.Writer}, c.Request
	if !parseForm(w, r) {
		return
	}
	ctx := r.Context()
	cl, err := h.authenticateCaller(c, w)
	if err != nil {
		return
	}
	if cl.IsPublic() {
		h.core.WriteTokenError(ctx, w, nil, fosite.ErrInvalidClient.WithHint("Introspection requires a confidential client; public clients cannot introspect."))
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "The token parameter is missing.")
		return
	}
	info, err := h.core.Introspect(ctx, cl, token, r.PostForm.Get("token_type_hint"))
	if err != nil {
		err = core.ServerError(err)
		h.logFailure(c, err)
		h.core.WriteTokenError(ctx, w, nil, err)
		return
	}
	if info == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// authenticateCaller runs client authentication for introspection and
// revocation; on failure it has answered.
func (h *Handler) authenticateCaller(c *gin.Context, w http.ResponseWriter) (*core.Client, error) {
	r := c.Request
	cl, err := h.core.AuthenticateClient(r.Context(), r, r.PostForm)
	if err != nil {
		h.logFailure(c, err)
		h.core.WriteTokenError(r.Context(), w, nil, err)
		return nil, err
	}
	return cl, nil
}
