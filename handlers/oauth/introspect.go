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
// inactive, unknown or expired, is exactly {"active":false}.
func (h *Handler) introspect(c *gin.Context) {
	w, r := challengeWriter{c.Writer}, c.Request
	if !parseForm(w, r) {
		return
	}
	cr := h.Current()
	ctx := r.Context()
	cl, err := cr.AuthenticateClient(ctx, r, r.PostForm)
	if err == nil && cl.IsPublic() {
		err = fosite.ErrInvalidClient.WithHint("Introspection requires a confidential client; public clients cannot introspect.")
	}
	if err != nil {
		h.logFailure(c, err)
		cr.Provider.WriteAccessError(ctx, w, nil, err)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "The token parameter is missing.")
		return
	}
	info, err := cr.Introspect(ctx, cl.(*core.Client), token, r.PostForm.Get("token_type_hint"))
	if err != nil {
		h.logFailure(c, err)
		cr.Provider.WriteAccessError(ctx, w, nil, core.ServerError(err))
		return
	}
	if info == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, info)
}
