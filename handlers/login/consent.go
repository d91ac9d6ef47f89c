package login

// The consent page and form: a client that needs the user's consent gets
// it once per scope set, remembered; prompt=consent asks again.

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/core"
)

// consentOrFinish shows the consent page when the request needs one
// (prompt=none then gets consent_required), else finishes it.
func (h *handler) consentOrFinish(c *gin.Context, req *core.AuthorizeRequest, sess *core.BrowserSession) {
	ctx := c.Request.Context()
	need, err := h.core.ConsentNeeded(ctx, req, sess.UserID)
	if err != nil {
		h.unavailable(c, err)
		return
	}
	if !need {
		h.finish(c, req, sess)
		return
	}
	if req.HasPrompt(core.PromptNone) {
		h.redirect(c, h.core.Fail(req, core.ErrConsentRequired.WithHint("The user has not allowed this client yet.")).RedirectURL())
		return
	}
	p, err := h.core.StartLogin(ctx, req)
	if err != nil {
		h.unavailable(c, err)
		return
	}
	h.bindForm(c, p.ID, p.CSRF)
	h.render(c, http.StatusOK, "consent.html", consentData{Assets: AssetsPath, Action: ConsentPath, ClientName: req.Client.DisplayName(),
		Username: sess.Username, Scopes: req.Scopes, RequestID: p.ID, CSRF: p.CSRF})
}

// consentPage shows the consent page of a pending request by its id (the
// query's request), with the CSRF token of this browser's binding cookie:
// after a sign-in done by the page's script (a passkey), the script
// navigates here when the request needs consent. It only renders: Allow
// and Deny are the consent form's post, checked as always. Another site
// cannot use it — it knows no pending request's id, and a foreign one
// without this browser's cookie is ErrBadCSRF.
func (h *handler) consentPage(c *gin.Context) {
	ctx, id := c.Request.Context(), c.Query("request")
	csrf, err := c.Cookie(bindingCookieName(id))
	if err != nil || csrf == "" {
		h.resumed(c, core.ErrBadCSRF)
		return
	}
	req, err := h.core.ResumeLogin(ctx, id, csrf)
	if !h.resumed(c, err) {
		return
	}
	sess, ok := h.requestSession(c, req)
	if !ok {
		return
	}
	h.render(c, http.StatusOK, "consent.html", consentData{Assets: AssetsPath, Action: ConsentPath, ClientName: req.Client.DisplayName(),
		Username: sess.Username, Scopes: req.Scopes, RequestID: id, CSRF: csrf})
}

// requestSession is the browser session of req's realm that a consent
// page or form needs; without one it has answered (login_required).
func (h *handler) requestSession(c *gin.Context, req *core.AuthorizeRequest) (*core.BrowserSession, bool) {
	cookie, _ := c.Cookie(CookieName)
	sess, err := h.core.Session(c.Request.Context(), cookie, req.Client.Realm)
	switch {
	case err != nil:
		h.unavailable(c, err)
		return nil, false
	case sess == nil:
		h.errorPage(c, http.StatusBadRequest, "login_required", msgNoSession)
		return nil, false
	}
	return sess, true
}

type consentData struct {
	Assets, Action, ClientName, Username, RequestID, CSRF string
	Scopes                                                []string
}

// consent takes the consent form: the pending request and its CSRF token,
// the browser session of the request's realm, then Allow (remembered,
// then the code) or Deny (access_denied).
func (h *handler) consent(c *gin.Context) {
	form, req, ok := h.resumeForm(c)
	if !ok {
		return
	}
	ctx, id := c.Request.Context(), form.Get("request")
	sess, ok := h.requestSession(c, req)
	if !ok {
		return
	}
	if err := h.core.ConsumeLogin(ctx, id); err != nil {
		h.resumed(c, err)
		return
	}
	h.unbindForm(c, id)
	switch form.Get("decision") {
	case "allow":
		if err := h.core.GrantConsent(ctx, req, sess.UserID); err != nil {
			h.unavailable(c, err)
			return
		}
		h.finish(c, req, sess)
	case "deny":
		h.redirect(c, h.core.Fail(req, core.ErrAccessDenied.WithHint("The user denied the request.")).RedirectURL())
	default:
		h.errorPage(c, http.StatusBadRequest, "invalid_request", "The consent form was not answered with Allow or Deny.")
	}
}
