package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/core"
)

// revoke serves POST /oauth2/revoke (RFC 7009). The caller authenticates by
// its configured method (a public client by client_id). Revoking either
// token of a grant — a rotated refresh token too — revokes the whole grant;
// another client's token is answered 200 and stays active (RFC 7009 §2.2
// forbids telling the caller more). A storage failure is 503 with
// Retry-After rather than a silent 200.
func (h *Handler) revoke(c *gin.Context) {
	w, r := challengeWriter{c.Writer}, c.Request
	if !parseForm(w, r) {
		return
	}
	cl, err := h.authenticateCaller(c, w)
	if err != nil {
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "The token parameter is missing.")
		return
	}
	if err := h.core.RevokeToken(r.Context(), cl, token, r.PostForm.Get("token_type_hint")); err != nil {
		err = core.ServerError(err)
		h.logFailure(c, err)
		h.core.WriteTokenError(r.Context(), w, nil, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
