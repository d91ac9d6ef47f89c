package login

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/core"
)

// The add-a-passkey offer of the login pages (the passkey sign-in is in
// passkeys.go).
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
