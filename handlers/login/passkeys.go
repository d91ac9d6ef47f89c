package login

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

// Passkeys on the login pages, for a realm with passkeys: true.
//
// Sign-in: the login page's script (assets/passkeys.js) posts the page's
// request id and CSRF token to PasskeyBeginPath and gets the options of a
// discoverable sign-in (no username: the passkey names the user; the
// challenge is kept by accounts, hashed, for one use); the browser's
// answer goes to PasskeyFinishPath, which verifies it (accounts), starts
// the browser session as a password sign-in does (amr ["hwk", "user"], or
// ["hwk"] when the authenticator did not verify the person) and answers
// {"location": …}: the client's redirect with the code, or the consent
// page. Both routes are bound to the pending request exactly as the
// password form is — its id, its CSRF token and this browser's binding
// cookie — so another site cannot use them, and a finished request gets
// the password form's answer.
//
// JSON answers: 200 with the options or {"location": …}; errors are
// {"error", "error_description"} (the description is one sentence that
// may be shown) with 400 (bad body, finished or expired request), 401 (a
// refused passkey), 403 (CSRF token or binding cookie missing or
// foreign), 404 (the realm has no passkeys), 413 (over the body cap), 415
// (not JSON) or 503 (retry); an authorization error that goes back to the
// client also carries its "location".

// Messages shared with the forms.
const (
	msgLoginGone = "This sign-in page has expired or was already used. Go back to the application and sign in again."
	msgBadCSRF   = "The sign-in form is out of date or did not come from this page. Go back to the application and sign in again."
	msgNoSession = "You are no longer signed in. Go back to the application and sign in again."
)

// passkeysOn reports whether realm's login page offers passkeys.
func (h *handler) passkeysOn(realm *config.Realm) bool {
	return h.passkeys != nil && realm != nil && realm.Passkeys
}

// amrOf is the RFC 8176 methods of a passkey sign-in: "hwk" (proof of
// possession of a hardware-secured key) always, and "user" only when the
// authenticator verified the person (the UV flag: a PIN or biometric). So
// ["hwk", "user"] or ["hwk"]: the contract's choice, which lets a client
// tell a verified sign-in from one that was not. RFC 8176 defines "user"
// as a user presence test, which every assertion here passes (the UP flag
// is required); without UV we leave it out all the same, rather than give
// both kinds of sign-in the same amr.
func amrOf(p *accounts.PasskeyLogin) []string {
	if p.UserVerified {
		return []string{"hwk", "user"}
	}
	return []string{"hwk"}
}

// pendingBody is the part of every JSON body that names the pending
// request, as the forms' hidden fields do.
type pendingBody struct {
	Request string `json:"request"`
	CSRF    string `json:"csrf"`
}

func (p *pendingBody) pending() *pendingBody { return p }

// assertionBody is a sign-in's answer: the challenge as sent, and the
// credential as the script encodes it (binary values base64url).
type assertionBody struct {
	pendingBody
	Challenge string `json:"challenge"`
	RawID     string `json:"rawId"`
	Response  struct {
		ClientDataJSON    string `json:"clientDataJSON"`
		AuthenticatorData string `json:"authenticatorData"`
		Signature         string `json:"signature"`
		UserHandle        string `json:"userHandle"`
	} `json:"response"`
}

// attestationBody is a registration's answer.
type attestationBody struct {
	pendingBody
	Challenge      string `json:"challenge"`
	CredentialUUID string `json:"credentialUUID"`
	RawID          string `json:"rawId"`
	Response       struct {
		ClientDataJSON    string   `json:"clientDataJSON"`
		AttestationObject string   `json:"attestationObject"`
		Transports        []string `json:"transports"`
	} `json:"response"`
}

// b64 decodes base64url, with or without padding.
func b64(s string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	return b, err == nil
}

// jsonAnswer writes a JSON answer that is never cached.
func jsonAnswer(c *gin.Context, status int, v any) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.Header("X-Content-Type-Options", "nosniff")
	c.JSON(status, v)
	c.Abort()
}

func jsonError(c *gin.Context, status int, code, msg string) {
	jsonAnswer(c, status, gin.H{"error": code, "error_description": msg})
}

func (h *handler) unavailableJSON(c *gin.Context, err error) {
	h.log.ErrorContext(c.Request.Context(), "login: request failed on the server side",
		"path", c.FullPath(), "request_id", c.Writer.Header().Get("X-Request-Id"), "error", err)
	c.Header("Retry-After", "2")
	jsonError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "Sign-in is unavailable right now. Try again in a moment.")
}

// authorizeFailedJSON is authorizeFailed for the script: an error that
// goes back to the client names its location.
func (h *handler) authorizeFailedJSON(c *gin.Context, err error) {
	var ae *core.AuthorizeError
	if errors.As(err, &ae) {
		if to := ae.RedirectURL(); to != "" {
			jsonAnswer(c, http.StatusBadRequest, gin.H{"error": ae.Code, "error_description": ae.Description, "location": to})
			return
		}
		jsonError(c, http.StatusBadRequest, ae.Code, ae.Description)
		return
	}
	h.unavailableJSON(c, err)
}

// resumedJSON is resumed for the script: a finished request gets the
// password form's answer (400), a CSRF token or binding cookie that is
// missing or not the request's 403.
func (h *handler) resumedJSON(c *gin.Context, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, core.ErrLoginGone):
		jsonError(c, http.StatusBadRequest, "invalid_request", msgLoginGone)
	case errors.Is(err, core.ErrBadCSRF):
		jsonError(c, http.StatusForbidden, "invalid_request", msgBadCSRF)
	default:
		h.authorizeFailedJSON(c, err)
	}
	return false
}

// resumeJSON reads a JSON body (under the server's cap) into v, resumes
// its pending request bound to this browser, and checks that the request's
// realm has passkeys. On failure it has answered.
func (h *handler) resumeJSON(c *gin.Context, v interface{ pending() *pendingBody }) (*core.AuthorizeRequest, *config.Realm, bool) {
	if h.passkeys == nil {
		jsonError(c, http.StatusNotFound, "not_found", "Passkeys are not enabled here.")
		return nil, nil, false
	}
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/json" {
		jsonError(c, http.StatusUnsupportedMediaType, "invalid_request", "Send the body as application/json.")
		return nil, nil, false
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			jsonError(c, http.StatusRequestEntityTooLarge, "invalid_request", "The request is larger than the 64 KiB limit.")
		} else {
			jsonError(c, http.StatusBadRequest, "invalid_request", "The request could not be read.")
		}
		return nil, nil, false
	}
	if err := json.Unmarshal(body, v); err != nil {
		jsonError(c, http.StatusBadRequest, "invalid_request", "The request is not a JSON object of the expected fields.")
		return nil, nil, false
	}
	p := v.pending()
	req, err := h.core.ResumeLogin(c.Request.Context(), p.Request, p.CSRF)
	if err == nil && !h.boundForm(c, p.Request, p.CSRF) {
		err = core.ErrBadCSRF
	}
	if !h.resumedJSON(c, err) {
		return nil, nil, false
	}
	realm := h.core.Snapshot().Realm(req.Client.Realm)
	if !h.passkeysOn(realm) {
		jsonError(c, http.StatusNotFound, "not_found", "Passkeys are not enabled for this sign-in.")
		return nil, nil, false
	}
	return req, realm, true
}

// passkeyFailed answers a ceremony's error: a refusal with its sentence
// (status refusedStatus), anything else 503.
func (h *handler) passkeyFailed(c *gin.Context, err error, refusedStatus int) {
	var pe *accounts.PasskeyError
	if errors.As(err, &pe) {
		h.log.InfoContext(c.Request.Context(), "login: passkey refused", "reason", pe.Reason, "cause", pe.Cause,
			"request_id", c.Writer.Header().Get("X-Request-Id"))
		jsonError(c, refusedStatus, "passkey_refused", pe.Reason)
		return
	}
	h.unavailableJSON(c, err)
}

// continueJSON is consentOrFinish for the script: the location of the
// client's redirect with the code, or of the consent page (a new pending
// request, bound to this browser, shown by GET ConsentPath).
func (h *handler) continueJSON(c *gin.Context, req *core.AuthorizeRequest, sess *core.BrowserSession) {
	ctx := c.Request.Context()
	need, err := h.core.ConsentNeeded(ctx, req, sess.UserID)
	if err != nil {
		h.unavailableJSON(c, err)
		return
	}
	if !need {
		to, err := h.core.FinishAuthorize(ctx, req, authorization(sess))
		if err != nil {
			h.authorizeFailedJSON(c, err)
			return
		}
		jsonAnswer(c, http.StatusOK, gin.H{"location": to})
		return
	}
	if req.HasPrompt(core.PromptNone) { // never here: prompt=none shows no page
		jsonAnswer(c, http.StatusOK, gin.H{"location": h.core.Fail(req, core.ErrConsentRequired.WithHint("The user has not allowed this client yet.")).RedirectURL()})
		return
	}
	p, err := h.core.StartLogin(ctx, req)
	if err != nil {
		h.unavailableJSON(c, err)
		return
	}
	h.bindForm(c, p.ID, p.CSRF)
	jsonAnswer(c, http.StatusOK, gin.H{"location": ConsentPath + "?" + url.Values{"request": {p.ID}}.Encode()})
}

// passkeyBegin starts a discoverable sign-in for the login page.
func (h *handler) passkeyBegin(c *gin.Context) {
	var in pendingBody
	_, realm, ok := h.resumeJSON(c, &in)
	if !ok {
		return
	}
	// Bound to the pending request: its challenge finishes only there.
	opts, err := h.passkeys.BeginBoundLogin(c.Request.Context(), realm, "", in.Request)
	if err != nil {
		h.passkeyFailed(c, err, http.StatusBadRequest)
		return
	}
	jsonAnswer(c, http.StatusOK, gin.H{"publicKey": opts.Options})
}

// passkeyFinish verifies a sign-in's answer, then signs the user in as the
// password form does; the ceremony is used up in the transaction that
// starts the browser session.
func (h *handler) passkeyFinish(c *gin.Context) {
	var in assertionBody
	req, realm, ok := h.resumeJSON(c, &in)
	if !ok {
		return
	}
	fin := accounts.AssertionFinish{Purpose: accounts.CeremonyDiscoverable, Challenge: in.Challenge, Binding: in.Request}
	var okID, okCD, okAD, okSig, okUH bool
	fin.CredentialID, okID = b64(in.RawID)
	fin.ClientDataJSON, okCD = b64(in.Response.ClientDataJSON)
	fin.AuthenticatorData, okAD = b64(in.Response.AuthenticatorData)
	fin.Signature, okSig = b64(in.Response.Signature)
	fin.UserHandle, okUH = b64(in.Response.UserHandle)
	if !okID || !okCD || !okAD || !okSig || !okUH || len(fin.CredentialID) == 0 {
		jsonError(c, http.StatusBadRequest, "invalid_request", "The passkey's answer is incomplete or not base64url.")
		return
	}
	ctx := c.Request.Context()
	pl, err := h.passkeys.VerifyLogin(ctx, realm, fin)
	if err != nil {
		h.passkeyFailed(c, err, http.StatusUnauthorized)
		return
	}
	sess, err := h.core.CompleteLogin(ctx, in.Request, pl.User, amrOf(pl), func(ctx context.Context) error { return h.passkeys.Consume(ctx, pl) })
	switch {
	case errors.Is(err, accounts.ErrPasskeyRefused):
		h.passkeyFailed(c, err, http.StatusUnauthorized)
		return
	case errors.Is(err, core.ErrLoginGone):
		jsonError(c, http.StatusBadRequest, "invalid_request", msgLoginGone)
		return
	case err != nil:
		h.unavailableJSON(c, err)
		return
	}
	h.unbindForm(c, in.Request)
	h.setSession(c, sess)
	h.continueJSON(c, req, sess)
}
