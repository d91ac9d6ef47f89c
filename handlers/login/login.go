package login

import (
	"context"
	"crypto/sha512"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/surface"
)

// Paths of the routes this surface mounts.
const (
	AuthorizePath = core.AuthorizePath
	LoginPath     = "/login"
	ConsentPath   = "/consent"
	LogoutPath    = core.LogoutPath
	AssetsPath    = "/login/assets"
	// The passkey routes (JSON, fetched by the pages' script, see
	// passkeys.go) and the add-passkey page's Skip (a form).
	PasskeyBeginPath     = "/login/passkey/begin"
	PasskeyFinishPath    = "/login/passkey/finish"
	PasskeyAddBeginPath  = "/login/passkey/add/begin"
	PasskeyAddFinishPath = "/login/passkey/add/finish"
	PasskeySkipPath      = "/login/passkey/skip"
	// CookieName is the browser session cookie.
	CookieName = "latchkey_session"
)

// Prompts are the prompt values this surface honours (for discovery).
var Prompts = []string{core.PromptNone, core.PromptLogin, core.PromptConsent}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/style.css
var styleCSS []byte

//go:embed assets/passkeys.js
var passkeysJS []byte

// scriptIntegrity is the subresource integrity of passkeys.js.
var scriptIntegrity = func() string {
	sum := sha512.Sum384(passkeysJS)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}()

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Surface is the browser sign-in surface contract. It is always on, at the
// root: its paths are the standard ones discovery names.
type Surface struct{}

var _ surface.Surface = Surface{}

// Name returns "login".
func (Surface) Name() string { return "login" }

// Prefix returns the root, enabled.
func (Surface) Prefix(*config.Snapshot) (string, bool) { return "", true }

// Mount registers the routes for env's snapshot. When a realm of the
// snapshot has passkeys, the snapshot's relying party is made here, once.
func (Surface) Mount(r gin.IRouter, env surface.Env) {
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	var users userOps
	var pk passkeyOps
	if env.Accounts != nil {
		users = env.Accounts
		if snap := env.Core.Snapshot(); snap.PasskeysEnabled() {
			p, err := accounts.NewPasskeys(env.Accounts, snap)
			if err != nil {
				log.Error("login: passkeys are off: the WebAuthn relying party could not be made", "error", err)
			} else {
				pk = p
			}
		}
	}
	newHandler(env.Core, users, pk, log).register(r)
}

// coreOps are the core operations the login surface calls.
type coreOps interface {
	Snapshot() *config.Snapshot
	Now() time.Time
	ParseAuthorize(ctx context.Context, form url.Values) (*core.AuthorizeRequest, error)
	FinishAuthorize(ctx context.Context, r *core.AuthorizeRequest, a core.Authorization) (string, error)
	Fail(r *core.AuthorizeRequest, e *fosite.RFC6749Error) *core.AuthorizeError
	StartLogin(ctx context.Context, r *core.AuthorizeRequest) (*core.PendingLogin, error)
	ResumeLogin(ctx context.Context, id, csrf string) (*core.AuthorizeRequest, error)
	CompleteLogin(ctx context.Context, id string, user *accounts.User, amr []string, also ...func(ctx context.Context) error) (*core.BrowserSession, error)
	ConsumeLogin(ctx context.Context, id string) error
	ConsentNeeded(ctx context.Context, r *core.AuthorizeRequest, userID string) (bool, error)
	GrantConsent(ctx context.Context, r *core.AuthorizeRequest, userID string) error
	CheckLogout(ctx context.Context, form url.Values) (*core.Logout, error)
	EndSession(ctx context.Context, cookie string) error
	Session(ctx context.Context, cookie, realm string) (*core.BrowserSession, error)
	VerifyPassword(ctx context.Context, realmID, login, password string) (*accounts.User, error)
}

// userOps are the account reads the passkey pages make.
type userOps interface {
	Get(ctx context.Context, realmID, userID string) (*accounts.User, error)
}

// passkeyOps are the ceremonies of the snapshot's relying party
// (*accounts.Passkeys).
type passkeyOps interface {
	BeginBoundLogin(ctx context.Context, realm *config.Realm, username, binding string) (*accounts.AssertionOptions, error)
	VerifyLogin(ctx context.Context, realm *config.Realm, in accounts.AssertionFinish) (*accounts.PasskeyLogin, error)
	Consume(ctx context.Context, l *accounts.PasskeyLogin) error
	BeginRegistration(ctx context.Context, realm *config.Realm, in accounts.RegistrationStart) (*accounts.RegistrationOptions, error)
	VerifyRegistration(ctx context.Context, realm *config.Realm, in accounts.RegistrationFinish) (*accounts.VerifiedRegistration, error)
	HasPasskey(ctx context.Context, realmID, userID string) (bool, error)
	InsertRegistration(ctx context.Context, v *accounts.VerifiedRegistration) (*accounts.User, *accounts.Credential, error)
}

type handler struct {
	core coreOps
	// users and passkeys are nil when no realm of the snapshot has
	// passkeys (or its relying party could not be made).
	users    userOps
	passkeys passkeyOps
	log      *slog.Logger
	// secure sets the cookie's Secure attribute (an https issuer).
	secure bool
}

func newHandler(c coreOps, users userOps, pk passkeyOps, log *slog.Logger) *handler {
	if log == nil {
		log = slog.Default()
	}
	if users == nil {
		pk = nil
	}
	return &handler{core: c, users: users, passkeys: pk, log: log, secure: strings.HasPrefix(c.Snapshot().Issuer, "https://")}
}

func (h *handler) register(r gin.IRouter) {
	r.GET(AuthorizePath, h.authorize)
	r.POST(AuthorizePath, h.authorize)
	r.POST(LoginPath, h.login)
	r.GET(ConsentPath, h.consentPage)
	r.POST(ConsentPath, h.consent)
	r.GET(LogoutPath, h.logout)
	r.POST(LogoutPath, h.logout)
	r.GET(AssetsPath+"/style.css", serveCSS)
	r.GET(AssetsPath+"/passkeys.js", serveJS)
	r.POST(PasskeyBeginPath, h.passkeyBegin)
	r.POST(PasskeyFinishPath, h.passkeyFinish)
	r.POST(PasskeyAddBeginPath, h.passkeyAddBegin)
	r.POST(PasskeyAddFinishPath, h.passkeyAddFinish)
	r.POST(PasskeySkipPath, h.passkeySkip)
}

// The form's CSRF token is also set as a cookie named after its request
// (so two tabs do not overwrite each other's), and a post must carry both:
// the stored hash proves the token is the request's, the cookie that the
// browser posting it is the one the page was shown to — another site
// cannot make a victim's browser post a login form (its own, for the
// attacker's account) that this browser was never shown (login CSRF).
const bindingCookiePrefix = "latchkey_form_"

func bindingCookieName(id string) string {
	if len(id) > 12 {
		id = id[:12]
	}
	return bindingCookiePrefix + id
}

// bindForm sets the form's binding cookie.
func (h *handler) bindForm(c *gin.Context, id, csrf string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: bindingCookieName(id), Value: csrf, Path: "/", HttpOnly: true, Secure: h.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(core.LoginRequestLifetime.Seconds())})
}

// boundForm reports whether the browser holds the binding cookie of the
// posted form (compared in constant time); unbindForm clears it once the
// form is used.
func (h *handler) boundForm(c *gin.Context, id, csrf string) bool {
	got, err := c.Cookie(bindingCookieName(id))
	return err == nil && csrf != "" && subtle.ConstantTimeCompare([]byte(got), []byte(csrf)) == 1
}

func (h *handler) unbindForm(c *gin.Context, id string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: bindingCookieName(id), Value: "", Path: "/", HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// The Content-Security-Policy of the pages: nothing but our own style
// sheet and images; a page with passkeys adds our own script (the one
// embedded file, never inline: no 'unsafe-inline', no 'unsafe-eval') and
// same-origin fetches of its JSON routes.
const (
	cspPage     = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"
	cspScripted = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// htmlHeaders are set on every HTML answer; scripted pages load
// passkeys.js.
func htmlHeaders(w http.ResponseWriter, scripted bool) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	// No form-action: browsers apply it to the redirect that follows the
	// login form, which goes to the client.
	if scripted {
		hd.Set("Content-Security-Policy", cspScripted)
	} else {
		hd.Set("Content-Security-Policy", cspPage)
	}
	hd.Set("Referrer-Policy", "no-referrer")
}

func serveCSS(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/css; charset=utf-8", styleCSS)
}

func serveJS(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/javascript; charset=utf-8", passkeysJS)
}

// form reads the parameters of a GET (query) or a POST (form body, under
// the server's body cap); false when the body was refused.
func (h *handler) form(c *gin.Context) (url.Values, bool) {
	if c.Request.Method == http.MethodGet {
		return c.Request.URL.Query(), true
	}
	if err := c.Request.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.errorPage(c, http.StatusRequestEntityTooLarge, "invalid_request", "The request is larger than the 64 KiB limit.")
		} else {
			h.errorPage(c, http.StatusBadRequest, "invalid_request", "The form could not be read.")
		}
		return nil, false
	}
	return c.Request.PostForm, true
}

// authorize serves the authorization endpoint: a valid request with a live
// session of the client's realm (within max_age, no prompt=login) goes
// straight back with a code; prompt=none without one gets login_required;
// anything else shows the login page.
func (h *handler) authorize(c *gin.Context) {
	form, ok := h.form(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	req, err := h.core.ParseAuthorize(ctx, form)
	if err != nil {
		h.authorizeFailed(c, err)
		return
	}
	cookie, _ := c.Cookie(CookieName)
	sess, err := h.core.Session(ctx, cookie, req.Client.Realm)
	if err != nil {
		h.unavailable(c, err)
		return
	}
	if sess != nil && !req.HasPrompt(core.PromptLogin) && (!req.HasMaxAge || h.core.Now().Sub(sess.AuthTime) <= req.MaxAge) {
		h.consentOrFinish(c, req, sess)
		return
	}
	if req.HasPrompt(core.PromptNone) {
		h.redirect(c, h.core.Fail(req, core.ErrLoginRequired.WithHint("The user is not signed in.")).RedirectURL())
		return
	}
	p, err := h.core.StartLogin(ctx, req)
	if err != nil {
		h.unavailable(c, err)
		return
	}
	h.loginPage(c, http.StatusOK, req, p.ID, p.CSRF, req.LoginHint, "")
}

// genericFailure is the one message for every failed login (unknown user,
// wrong password, deactivated, locked out).
const genericFailure = "The username or password is incorrect, or the account cannot sign in right now."

// resumeForm reads a posted form of a pending request (login or consent):
// the request by its id, its CSRF token, and the form bound to this
// browser. On failure it has answered.
func (h *handler) resumeForm(c *gin.Context) (url.Values, *core.AuthorizeRequest, bool) {
	form, ok := h.form(c)
	if !ok {
		return nil, nil, false
	}
	id := form.Get("request")
	req, err := h.core.ResumeLogin(c.Request.Context(), id, form.Get("csrf"))
	if err == nil && !h.boundForm(c, id, form.Get("csrf")) {
		err = core.ErrBadCSRF
	}
	if !h.resumed(c, err) {
		return nil, nil, false
	}
	return form, req, true
}

// login takes the login form: the pending request and its CSRF token,
// then the one password check; success starts a browser session and
// finishes the request.
func (h *handler) login(c *gin.Context) {
	form, req, ok := h.resumeForm(c)
	if !ok {
		return
	}
	ctx, id := c.Request.Context(), form.Get("request")
	username, password := form.Get("username"), form.Get("password")
	user, err := h.core.VerifyPassword(ctx, req.Client.Realm, username, password)
	switch {
	case errors.Is(err, accounts.ErrBusy):
		c.Header("Retry-After", "2")
		h.errorPage(c, http.StatusServiceUnavailable, "temporarily_unavailable", "Too many sign-ins at once. Wait a moment and try again.")
		return
	case errors.Is(err, accounts.ErrUnavailable) || errors.Is(err, core.ErrUnavailable):
		h.unavailable(c, err)
		return
	case err != nil:
		h.loginPage(c, http.StatusUnauthorized, req, id, form.Get("csrf"), username, genericFailure)
		return
	}
	sess, err := h.core.CompleteLogin(ctx, id, user, []string{"pwd"})
	switch {
	case errors.Is(err, core.ErrLoginGone):
		h.errorPage(c, http.StatusBadRequest, "invalid_request", msgLoginGone)
		return
	case err != nil:
		h.unavailable(c, err)
		return
	}
	h.unbindForm(c, id)
	h.setSession(c, sess)
	if h.offerPasskey(c, req, user, sess) {
		return
	}
	h.consentOrFinish(c, req, sess)
}

// setSession sets the browser session cookie of a sign-in (password or
// passkey alike).
func (h *handler) setSession(c *gin.Context, sess *core.BrowserSession) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: CookieName, Value: sess.Cookie, Path: "/", HttpOnly: true, Secure: h.secure,
		SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt, MaxAge: int(time.Until(sess.ExpiresAt).Seconds()),
	})
}

// resumed answers a failed ResumeLogin or ConsumeLogin and reports
// whether err was nil.
func (h *handler) resumed(c *gin.Context, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, core.ErrLoginGone):
		h.errorPage(c, http.StatusBadRequest, "invalid_request", msgLoginGone)
	case errors.Is(err, core.ErrBadCSRF):
		h.errorPage(c, http.StatusBadRequest, "invalid_request", msgBadCSRF)
	default:
		h.authorizeFailed(c, err)
	}
	return false
}

// authorization is what the session's sign-in decided.
func authorization(sess *core.BrowserSession) core.Authorization {
	return core.Authorization{UserID: sess.UserID, Username: sess.Username, AuthTime: sess.AuthTime, AMR: sess.AMR, SessionID: sess.SID}
}

// finish issues the request's code for the session's user.
func (h *handler) finish(c *gin.Context, req *core.AuthorizeRequest, sess *core.BrowserSession) {
	to, err := h.core.FinishAuthorize(c.Request.Context(), req, authorization(sess))
	if err != nil {
		h.authorizeFailed(c, err)
		return
	}
	h.redirect(c, to)
}

func (h *handler) redirect(c *gin.Context, to string) {
	core.WriteAuthorizeRedirect(c.Writer, to)
	c.Abort()
}

// authorizeFailed redirects a redirectable error to the client and shows
// any other on the error page.
func (h *handler) authorizeFailed(c *gin.Context, err error) {
	var ae *core.AuthorizeError
	if errors.As(err, &ae) {
		if to := ae.RedirectURL(); to != "" {
			h.redirect(c, to)
			return
		}
		h.errorPage(c, http.StatusBadRequest, ae.Code, ae.Description)
		return
	}
	h.unavailable(c, err)
}

func (h *handler) unavailable(c *gin.Context, err error) {
	h.log.ErrorContext(c.Request.Context(), "login: request failed on the server side",
		"path", c.FullPath(), "request_id", c.Writer.Header().Get("X-Request-Id"), "error", err)
	c.Header("Retry-After", "2")
	h.errorPage(c, http.StatusServiceUnavailable, "temporarily_unavailable", "Sign-in is unavailable right now. Try again in a moment.")
}

type loginData struct {
	Assets, Action, ClientName, RealmName, LoginLabel string
	RequestID, CSRF, Username, Error                  string
	EmailLogin                                        bool
	// Passkeys offers "Sign in with a passkey" (the realm has passkeys):
	// the script, its integrity and its two routes.
	Passkeys                               bool
	Integrity, PasskeyBegin, PasskeyFinish string
}

func (h *handler) loginPage(c *gin.Context, status int, req *core.AuthorizeRequest, id, csrf, username, msg string) {
	h.bindForm(c, id, csrf)
	realm := h.core.Snapshot().Realm(req.Client.Realm)
	d := loginData{Assets: AssetsPath, Action: LoginPath, ClientName: req.Client.DisplayName(), LoginLabel: "Username",
		RequestID: id, CSRF: csrf, Username: username, Error: msg}
	if realm != nil {
		d.RealmName = realm.Name
		if realm.UsernameIsEmail {
			d.LoginLabel, d.EmailLogin = "E-mail", true
		}
	}
	if h.passkeysOn(realm) {
		d.Passkeys, d.Integrity, d.PasskeyBegin, d.PasskeyFinish = true, scriptIntegrity, PasskeyBeginPath, PasskeyFinishPath
	}
	h.renderPage(c, status, "login.html", d, d.Passkeys)
}

func (h *handler) errorPage(c *gin.Context, status int, code, msg string) {
	h.render(c, status, "error.html", map[string]string{"Assets": AssetsPath, "Title": "Sign-in problem", "Message": msg, "Code": code})
}

func (h *handler) render(c *gin.Context, status int, name string, data any) {
	h.renderPage(c, status, name, data, false)
}

// renderPage renders a page; a scripted one gets the CSP that lets it
// load passkeys.js and fetch its routes.
func (h *handler) renderPage(c *gin.Context, status int, name string, data any, scripted bool) {
	htmlHeaders(c.Writer, scripted)
	c.Status(status)
	if err := pages.ExecuteTemplate(c.Writer, name, data); err != nil {
		h.log.ErrorContext(c.Request.Context(), "login: render page", "page", name, "error", err)
	}
	c.Abort()
}
