package oauth

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"
)

// revoke serves POST /oauth2/revoke (RFC 7009). Revoking either token of a
// grant revokes the whole grant; another client's token is answered 200 and
// stays active (RFC 7009 §2.2 forbids telling the caller more). A storage
// failure is 503 with Retry-After rather than fosite's silent 200.
func (h *Handler) revoke(c *gin.Context) {
	w, r := challengeWriter{c.Writer}, c.Request
	if !parseForm(w, r) {
		return
	}
	if r.PostForm.Get("token") == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "The token parameter is missing.")
		return
	}
	cr := h.Current()
	ctx := r.Context()
	err := cr.Provider.NewRevocationRequest(ctx, r)
	switch {
	case errors.Is(err, fosite.ErrTemporarilyUnavailable):
		h.Logger.Error("token revocation failed in storage", "request_id", c.Writer.Header().Get("X-Request-Id"), "cause", err)
		cr.Provider.WriteAccessError(ctx, w, nil, err)
		return
	case errors.Is(err, fosite.ErrInvalidClient):
		cr.Provider.WriteAccessError(ctx, w, nil, err)
		return
	}
	cr.Provider.WriteRevocationResponse(ctx, w, err)
}
