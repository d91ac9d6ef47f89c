package login

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
// Adding a passkey: after a password sign-in in such a realm, a user who
// has no active passkey and did not skip the offer on this browser sees
// the add-passkey page (a new pending request, bound to the browser and to
// the new session). Add runs a registration through PasskeyAddBeginPath
// and PasskeyAddFinishPath, which then continue as above; Skip is a plain
// form post to PasskeySkipPath, which needs no JavaScript.
//
// Remembered per user: the login surface stores nothing, and storage has
// no record of the offer, so the answer is derived. A user who has an
// active passkey is never asked (read from their credentials, on every
// replica and browser). A Skip sets a long-lived cookie whose name is a
// hash of the realm and the user id (skipCookieName): the choice is
// remembered per user per browser — several people sharing a browser each
// keep their own, and the same user on a new browser (or after clearing
// cookies) is asked once more there.
//
// JSON answers: 200 with the options or {"location": …}; errors are
// {"error", "error_description"} (the description is one sentence that
// may be shown) with 400 (bad body, finished or expired request), 401 (a
// refused passkey), 403 (CSRF token or binding cookie missing or
// foreign), 404 (the realm has no passkeys), 413 (over the body cap), 415
// (not JSON) or 503 (retry); an authorization error that goes back to the
// client also carries its "location".

// Cookies of the add-passkey offer.
const (
	// offerCookiePrefix + the offer's request id (12 characters) holds
	// the session id the offer was made to: the offer's routes accept no
	// other pending request (not a login page's: adding a passkey or
	// skipping must follow a sign-in) and no other session.
	offerCookiePrefix = "latchkey_offer_"
	// skipCookiePrefix + a hash of the realm and user id: the user
	// skipped the offer on this browser.
	skipCookiePrefix = "latchkey_pkskip_"
	// skipCookieMaxAge is 400 days, the most browsers keep a cookie.
	skipCookieMaxAge = 400 * 24 * 60 * 60
	// skipCookiePath covers POST /login, where the offer is decided, and
	// PasskeySkipPath, which sets it.
	skipCookiePath = LoginPath
)

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
// password form does.
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
	pl, err := h.passkeys.FinishLogin(ctx, realm, fin)
	if err != nil {
		h.passkeyFailed(c, err, http.StatusUnauthorized)
		return
	}
	sess, err := h.core.CompleteLogin(ctx, in.Request, pl.User, amrOf(pl))
	switch {
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

// offerData is the add-passkey page's.
type offerData struct {
	Assets, Action, ClientName, Username, RequestID, CSRF string
	Integrity, PasskeyBegin, PasskeyFinish                string
}

// offerPasskey shows the add-passkey page after user's password sign-in
// when their realm has passkeys, they have no active passkey and did not
// skip the offer on this browser; false when it does not (then the
// sign-in goes on as usual — the offer never blocks it, even when the
// credentials cannot be read).
func (h *handler) offerPasskey(c *gin.Context, req *core.AuthorizeRequest, user *accounts.User, sess *core.BrowserSession) bool {
	realm := h.core.Snapshot().Realm(req.Client.Realm)
	if !h.passkeysOn(realm) || h.skipped(c, realm.ID, user.ID) {
		return false
	}
	ctx := c.Request.Context()
	has, err := h.passkeys.HasPasskey(ctx, realm.ID, user.ID)
	if err != nil {
		h.log.WarnContext(ctx, "login: the add-passkey offer is left out: the user's passkeys could not be read", "error", err)
		return false
	}
	if has {
		return false
	}
	p, err := h.core.StartLogin(ctx, req)
	if err != nil {
		h.log.WarnContext(ctx, "login: the add-passkey offer is left out", "error", err)
		return false
	}
	h.bindForm(c, p.ID, p.CSRF)
	http.SetCookie(c.Writer, &http.Cookie{Name: offerCookieName(p.ID), Value: sess.SID, Path: "/login", HttpOnly: true, Secure: h.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(core.LoginRequestLifetime.Seconds())})
	h.renderPage(c, http.StatusOK, "passkey.html", offerData{Assets: AssetsPath, Action: PasskeySkipPath, ClientName: req.Client.DisplayName(),
		Username: sess.Username, RequestID: p.ID, CSRF: p.CSRF, Integrity: scriptIntegrity,
		PasskeyBegin: PasskeyAddBeginPath, PasskeyFinish: PasskeyAddFinishPath}, true)
	return true
}

func offerCookieName(id string) string {
	if len(id) > 12 {
		id = id[:12]
	}
	return offerCookiePrefix + id
}

func skipCookieName(realmID, userID string) string {
	sum := sha256.Sum256([]byte("latchkey passkey offer skipped\x00" + realmID + "\x00" + userID))
	return skipCookiePrefix + hex.EncodeToString(sum[:12])
}

func (h *handler) skipped(c *gin.Context, realmID, userID string) bool {
	v, err := c.Cookie(skipCookieName(realmID, userID))
	return err == nil && v == "1"
}

// offerSession returns the session an offer's pending request id was made
// to: this browser's session of req's realm, the one the offer cookie
// names, signed in within the life of a login page. On failure it has
// answered (as JSON when asJSON).
func (h *handler) offerSession(c *gin.Context, req *core.AuthorizeRequest, id string, asJSON bool) (*core.BrowserSession, bool) {
	fail := func(status int, code, msg string) {
		if asJSON {
			jsonError(c, status, code, msg)
		} else {
			h.errorPage(c, status, code, msg)
		}
	}
	cookie, _ := c.Cookie(CookieName)
	sess, err := h.core.Session(c.Request.Context(), cookie, req.Client.Realm)
	switch {
	case err != nil && asJSON:
		h.unavailableJSON(c, err)
		return nil, false
	case err != nil:
		h.unavailable(c, err)
		return nil, false
	case sess == nil:
		fail(http.StatusBadRequest, "login_required", msgNoSession)
		return nil, false
	}
	if sid, err := c.Cookie(offerCookieName(id)); err != nil || sid != sess.SID {
		fail(http.StatusForbidden, "invalid_request", msgBadCSRF)
		return nil, false
	}
	if h.core.Now().Sub(sess.AuthTime) > core.LoginRequestLifetime {
		fail(http.StatusBadRequest, "login_required", "This page has expired. Go back to the application and sign in again.")
		return nil, false
	}
	return sess, true
}

// endOffer uses up the offer's pending request (once: ErrLoginGone for a
// second use) and clears its cookies.
func (h *handler) endOffer(c *gin.Context, id string) error {
	if err := h.core.ConsumeLogin(c.Request.Context(), id); err != nil {
		return err
	}
	h.unbindForm(c, id)
	http.SetCookie(c.Writer, &http.Cookie{Name: offerCookieName(id), Value: "", Path: "/login", HttpOnly: true, Secure: h.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	return nil
}

// passkeySkip takes the add-passkey page's Skip (a form, no JavaScript):
// remembered for the user on this browser, then the sign-in goes on.
func (h *handler) passkeySkip(c *gin.Context) {
	form, req, ok := h.resumeForm(c)
	if !ok {
		return
	}
	id := form.Get("request")
	sess, ok := h.offerSession(c, req, id, false)
	if !ok {
		return
	}
	if err := h.endOffer(c, id); err != nil {
		h.resumed(c, err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: skipCookieName(sess.Realm, sess.UserID), Value: "1", Path: skipCookiePath, HttpOnly: true,
		Secure: h.secure, SameSite: http.SameSiteLaxMode, MaxAge: skipCookieMaxAge})
	h.consentOrFinish(c, req, sess)
}

// passkeyAddBegin starts registering a passkey for the offer's user.
func (h *handler) passkeyAddBegin(c *gin.Context) {
	var in pendingBody
	req, realm, ok := h.resumeJSON(c, &in)
	if !ok {
		return
	}
	sess, ok := h.offerSession(c, req, in.Request, true)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	user, err := h.users.Get(ctx, realm.ID, sess.UserID)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		jsonError(c, http.StatusBadRequest, "login_required", msgNoSession)
		return
	case err != nil:
		h.unavailableJSON(c, err)
		return
	}
	opts, err := h.passkeys.BeginRegistration(ctx, realm, accounts.RegistrationStart{Purpose: accounts.CeremonyAddPasskey, User: user, Binding: in.Request})
	if err != nil {
		h.passkeyFailed(c, err, http.StatusBadRequest)
		return
	}
	jsonAnswer(c, http.StatusOK, gin.H{"publicKey": opts.Options, "credentialUUID": opts.CredentialUUID})
}

// passkeyAddFinish verifies and stores the new passkey, then the sign-in
// goes on.
func (h *handler) passkeyAddFinish(c *gin.Context) {
	var in attestationBody
	req, realm, ok := h.resumeJSON(c, &in)
	if !ok {
		return
	}
	sess, ok := h.offerSession(c, req, in.Request, true)
	if !ok {
		return
	}
	fin := accounts.RegistrationFinish{Purpose: accounts.CeremonyAddPasskey, UserID: sess.UserID, CredentialUUID: in.CredentialUUID,
		Challenge: in.Challenge, Transports: in.Response.Transports, Binding: in.Request}
	var okID, okCD, okAO bool
	fin.CredentialID, okID = b64(in.RawID)
	fin.ClientDataJSON, okCD = b64(in.Response.ClientDataJSON)
	fin.AttestationObject, okAO = b64(in.Response.AttestationObject)
	if !okID || !okCD || !okAO || len(fin.CredentialID) == 0 {
		jsonError(c, http.StatusBadRequest, "invalid_request", "The passkey's answer is incomplete or not base64url.")
		return
	}
	ctx := c.Request.Context()
	v, err := h.passkeys.VerifyRegistration(ctx, realm, fin)
	if err != nil {
		h.passkeyFailed(c, err, http.StatusBadRequest)
		return
	}
	if _, _, err := h.passkeys.InsertRegistration(ctx, v); err != nil {
		h.passkeyFailed(c, err, http.StatusBadRequest)
		return
	}
	if err := h.endOffer(c, in.Request); err != nil {
		h.resumedJSON(c, err)
		return
	}
	h.continueJSON(c, req, sess)
}
