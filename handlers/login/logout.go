package login

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// logout serves RP-initiated logout: the request is checked before
// anything ends; then the browser session ends with every grant made
// through it, the cookie is cleared, and the browser goes to the client's
// post-logout URI or sees the signed-out page.
func (h *handler) logout(c *gin.Context) {
	form, ok := h.form(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	lo, err := h.core.CheckLogout(ctx, form)
	if err != nil {
		h.authorizeFailed(c, err)
		return
	}
	cookie, _ := c.Cookie(CookieName)
	if err := h.core.EndSession(ctx, cookie); err != nil {
		h.unavailable(c, err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	if lo.RedirectURL != "" {
		h.redirect(c, lo.RedirectURL)
		return
	}
	name := ""
	if lo.Client != nil {
		name = lo.Client.DisplayName()
	}
	h.render(c, http.StatusOK, "signedout.html", map[string]string{"Assets": AssetsPath, "ClientName": name})
}
