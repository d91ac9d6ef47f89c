package core

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
)

// The authorization endpoint (RFC 6749 §4.1.1, RFC 7636, RFC 9207, OpenID
// Connect Core §3.1.2) as operations for a surface: ParseAuthorize checks a
// request, FinishAuthorize issues its code for a signed-in user, and every
// outcome is a redirect URL or an AuthorizeError. The surface owns the
// browser: login page, session cookie, consent.
//
// Until the client and the redirect URI are known good, an error is not
// redirectable (the surface shows an error page): a redirect to an
// unregistered URI would hand the error — and later the code — to whoever
// registered nothing. Redirect URIs are compared as exact strings, with no
// loopback port or case leniency (fosite's own matcher allows any port on a
// loopback host, so it runs only after ours).

// AuthorizePath is the authorization endpoint's path below the issuer.
const AuthorizePath = "/oauth2/authorize"

// CodeLifetime is how long an authorization code lives.
const CodeLifetime = 60 * time.Second

// Prompt values (OpenID Connect Core §3.1.2.1).
const (
	PromptNone    = "none"
	PromptLogin   = "login"
	PromptConsent = "consent"
)

// AuthorizeRequest is a checked authorization request.
type AuthorizeRequest struct {
	ar fosite.AuthorizeRequester
	// Client is the requesting client; RedirectURI where the answer goes.
	Client      *Client
	RedirectURI string
	// State is echoed exactly; Nonce goes into the ID token.
	State, Nonce string
	// Scopes are the requested scopes (all of the client's when the
	// request named none), each allowed for the client.
	Scopes []string
	// Prompt holds the prompt values; MaxAge is max_age when HasMaxAge.
	Prompt    []string
	MaxAge    time.Duration
	HasMaxAge bool
	// LoginHint is login_hint, to prefill the login form.
	LoginHint string
	// Form is the request's parameters, to store a pending request and
	// parse it again (ParseAuthorize) when it is finished.
	Form url.Values
}

// HasPrompt reports whether the request carries prompt value p.
func (r *AuthorizeRequest) HasPrompt(p string) bool { return slices.Contains(r.Prompt, p) }

// AuthorizeError is an authorization request's failure: an RFC 6749
// §4.1.2.1 error, redirectable when the client and redirect URI were good.
type AuthorizeError struct {
	Code, Description string
	redirect          string // "" when not redirectable
	state, issuer     string
}

func (e *AuthorizeError) Error() string { return "core: authorize: " + e.Code + ": " + e.Description }

// RedirectURL is where to send the browser (error, error_description,
// state, iss on the client's redirect URI), or "" when the error must be
// shown on an error page instead.
func (e *AuthorizeError) RedirectURL() string {
	if e.redirect == "" {
		return ""
	}
	return withParams(e.redirect, map[string]string{
		"error": e.Code, "error_description": e.Description, "state": e.state, "iss": e.issuer,
	})
}

// Errors a surface answers an authorization request with.
var (
	// ErrLoginRequired answers prompt=none without a usable session.
	ErrLoginRequired = fosite.ErrLoginRequired
	// ErrConsentRequired answers prompt=none when consent is missing.
	ErrConsentRequired = fosite.ErrConsentRequired
	// ErrAccessDenied answers a user who denied consent.
	ErrAccessDenied = fosite.ErrAccessDenied
)

// Fail makes the redirectable error of r for e (one of the errors above).
func (c *Core) Fail(r *AuthorizeRequest, e *fosite.RFC6749Error) *AuthorizeError {
	return c.authorizeError(r.RedirectURI, r.State, e)
}

func (c *Core) authorizeError(redirect, state string, err error) *AuthorizeError {
	rfc := fosite.ErrorToRFC6749Error(err)
	desc := rfc.HintField
	if desc == "" {
		desc = rfc.DescriptionField
	}
	code := rfc.ErrorField
	if rfc.CodeField >= 500 || code == "" || code == "error" {
		code, desc = fosite.ErrServerError.ErrorField, "The server could not complete the request."
	}
	return &AuthorizeError{Code: code, Description: desc, redirect: redirect, state: state, issuer: c.snap.Issuer}
}

// notRedirectable is an error shown on an error page.
func notRedirectable(code, desc string) *AuthorizeError {
	return &AuthorizeError{Code: code, Description: desc}
}

var (
	// challengeRe is an S256 code_challenge: base64url of 32 bytes.
	challengeRe = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	// verifierRe is a code_verifier (RFC 7636 §4.1).
	verifierRe = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// ParseAuthorize checks an authorization request given as its parameters
// (the query of a GET, the form of a POST). It returns the request, or an
// *AuthorizeError. It reads nothing from the database.
func (c *Core) ParseAuthorize(ctx context.Context, form url.Values) (*AuthorizeRequest, error) {
	for k, v := range form {
		if len(v) > 1 {
			// RFC 6749 §3.1: parameters must not be included more than once.
			if k == "client_id" || k == "redirect_uri" {
				return nil, notRedirectable("invalid_request", "The "+k+" parameter is given more than once.")
			}
		}
	}
	cl := c.clients[form.Get("client_id")]
	switch {
	case form.Get("client_id") == "":
		return nil, notRedirectable("invalid_request", "The client_id parameter is missing.")
	case cl == nil:
		return nil, notRedirectable("invalid_client", "The client is unknown.")
	case !cl.HasGrant(config.GrantAuthorizationCode):
		return nil, notRedirectable("unauthorized_client", "The client may not use the authorization code flow.")
	}
	redirect := form.Get("redirect_uri")
	switch {
	case redirect == "" && len(cl.RedirectURIs) == 1:
		redirect = cl.RedirectURIs[0]
	case redirect == "":
		return nil, notRedirectable("invalid_request", "The redirect_uri parameter is missing (the client has several).")
	case !slices.Contains(cl.RedirectURIs, redirect):
		return nil, notRedirectable("invalid_request", "The redirect_uri is not one of the client's registered redirect URIs.")
	}
	state := form.Get("state")
	fail := func(e *fosite.RFC6749Error) (*AuthorizeRequest, error) {
		return nil, c.authorizeError(redirect, state, e)
	}
	for k, v := range form {
		if len(v) > 1 {
			return fail(fosite.ErrInvalidRequest.WithHintf("The %s parameter is given more than once.", k))
		}
	}
	// From here on the client and redirect URI are good: errors redirect.
	if form.Get("request") != "" {
		return fail(fosite.ErrRequestNotSupported.WithHint("Request objects are not supported."))
	}
	if form.Get("request_uri") != "" {
		return fail(fosite.ErrRequestURINotSupported.WithHint("request_uri is not supported."))
	}
	if rt := form.Get("response_type"); rt != "code" {
		if rt == "" {
			return fail(fosite.ErrInvalidRequest.WithHint("The response_type parameter is missing."))
		}
		return fail(fosite.ErrUnsupportedResponseType.WithHint("Only response_type=code is supported."))
	}
	if rm := form.Get("response_mode"); rm != "" && rm != "query" {
		return fail(fosite.ErrInvalidRequest.WithHint("Only response_mode=query is supported."))
	}
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return fail(fosite.ErrInvalidRequest.WithHint("code_challenge_method was given without a code_challenge."))
	case challenge == "" && cl.RequirePKCE:
		return fail(fosite.ErrInvalidRequest.WithHint("This client must send a PKCE code_challenge with code_challenge_method=S256."))
	case challenge != "" && method != "S256":
		return fail(fosite.ErrInvalidRequest.WithHint("code_challenge_method must be S256; plain is not accepted."))
	case challenge != "" && !challengeRe.MatchString(challenge):
		return fail(fosite.ErrInvalidRequest.WithHint("code_challenge must be the base64url SHA-256 of the code verifier (43 characters)."))
	}
	var prompt []string
	if p := form.Get("prompt"); p != "" {
		prompt = strings.Fields(p)
		for _, v := range prompt {
			if v != PromptNone && v != PromptLogin && v != PromptConsent {
				return fail(fosite.ErrInvalidRequest.WithHintf("Unknown prompt value %q (none, login or consent).", v))
			}
		}
		if slices.Contains(prompt, PromptNone) && len(prompt) > 1 {
			return fail(fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values."))
		}
	}
	req := &AuthorizeRequest{Client: cl, RedirectURI: redirect, State: state, Nonce: form.Get("nonce"), Prompt: prompt, LoginHint: form.Get("login_hint")}
	if ma := form.Get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			return fail(fosite.ErrInvalidRequest.WithHint("max_age must be a whole number of seconds."))
		}
		req.MaxAge, req.HasMaxAge = time.Duration(n)*time.Second, true
	}
	if len(state) > 1024 || len(req.Nonce) > 1024 || len(req.LoginHint) > 255 {
		return fail(fosite.ErrInvalidRequest.WithHint("state, nonce or login_hint is too long."))
	}

	// fosite's own checks (scopes of the client, audience, state entropy)
	// on a request that names the redirect URI it was checked for.
	ff := cloneValues(form)
	ff.Set("redirect_uri", redirect)
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, "/?"+ff.Encode(), nil)
	if err != nil {
		return fail(fosite.ErrInvalidRequest)
	}
	ar, err := c.provider.NewAuthorizeRequest(ctx, hr)
	if err != nil {
		var rfc *fosite.RFC6749Error
		if errors.As(err, &rfc) && rfc.CodeField >= 500 {
			return nil, err
		}
		return nil, c.authorizeError(redirect, state, err)
	}
	if form.Get("redirect_uri") == "" {
		// The code remembers the redirect_uri only when the request named
		// it: only then must the token request repeat it (RFC 6749 §4.1.3).
		ar.GetRequestForm().Del("redirect_uri")
	}
	req.ar = ar
	req.Scopes = ar.GetRequestedScopes()
	if len(req.Scopes) == 0 {
		req.Scopes = append([]string(nil), cl.Scopes...)
	}
	req.Form = form
	return req, nil
}

// Authorization is what a surface decided for a request: who signed in,
// when, in which browser session, and the scopes granted (a subset of the
// request's; nil means all requested).
type Authorization struct {
	UserID, Username string
	AuthTime         time.Time
	// AMR are the methods the user signed in with (RFC 8176), for the ID
	// token's amr claim.
	AMR       []string
	SessionID string
	Scopes    []string
}

// FinishAuthorize issues the request's authorization code for the user and
// returns the URL to redirect the browser to (code, state, iss). The user
// must be of the client's realm. A code lives CodeLifetime and is stored
// by its signature only. A failure is an *AuthorizeError (redirectable) or
// ErrUnavailable.
func (c *Core) FinishAuthorize(ctx context.Context, r *AuthorizeRequest, a Authorization) (string, error) {
	if r == nil || r.ar == nil || c.clients[r.Client.ID] != r.Client {
		return "", errors.New("core: finish authorize: the request is not of this snapshot")
	}
	if a.UserID == "" {
		return "", errors.New("core: finish authorize: no user")
	}
	scopes := a.Scopes
	if scopes == nil {
		scopes = r.Scopes
	}
	for _, s := range scopes {
		if !slices.Contains(r.Scopes, s) {
			return "", c.Fail(r, fosite.ErrInvalidScope.WithHintf("Scope %q was not requested.", s))
		}
		r.ar.GrantScope(s)
	}
	for _, aud := range r.Client.GetAudience() {
		r.ar.GrantAudience(aud)
	}
	sess := &Session{
		Subject: a.UserID, Kind: KindUser, Realm: r.Client.Realm, Username: a.Username,
		AuthTime: a.AuthTime.UTC().Truncate(time.Second), AMR: a.AMR, SID: a.SessionID, Nonce: r.Nonce,
	}
	resp, err := c.provider.NewAuthorizeResponse(ctx, r.ar, sess)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return "", err
		}
		return "", c.authorizeError(r.RedirectURI, r.State, err)
	}
	return withParams(r.RedirectURI, map[string]string{
		"code": resp.GetParameters().Get("code"), "state": r.State, "iss": c.snap.Issuer,
	}), nil
}

// WriteAuthorizeRedirect sends the browser to to (303, never cached).
func WriteAuthorizeRedirect(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusSeeOther)
}

// withParams adds params (empty values left out) to the query of uri,
// keeping the query it has (RFC 6749 §3.1.2).
func withParams(uri string, params map[string]string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri // cannot happen: redirect URIs are checked at load
	}
	q := u.Query()
	for _, k := range []string{"code", "error", "error_description", "state", "iss"} {
		if v := params[k]; v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// codeHandler is the authorization endpoint's handler of response_type
// code: it issues the code and stores its one row, which binds the code to
// its client, redirect URI, PKCE challenge, scopes and session.
type codeHandler struct{ core *Core }

var _ fosite.AuthorizeEndpointHandler = (*codeHandler)(nil)

func (h *codeHandler) HandleAuthorizeEndpointRequest(ctx context.Context, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) error {
	if !ar.GetResponseTypes().ExactOne("code") {
		return nil
	}
	ar.SetDefaultResponseMode(fosite.ResponseModeQuery)
	code, sig, err := h.core.strategy.GenerateAuthorizeCode(ctx, ar)
	if err != nil {
		return err
	}
	ar.GetSession().SetExpiresAt(fosite.AuthorizeCode, h.core.now().Add(CodeLifetime))
	if err := h.core.store.CreateAuthorizeCodeSession(ctx, sig, ar); err != nil {
		return unavailable("store authorization code", err)
	}
	resp.AddParameter("code", code)
	ar.SetResponseTypeHandled("code")
	return nil
}
