package core

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// Browser sign-in state for the login surface: pending authorization
// requests (the login page waits for a password) and browser sessions
// (single sign-on within a realm). The browser holds random values — the
// request id and CSRF token in the page, the session cookie — and the
// database only their SHA-256, so a database reader cannot take over a
// login or a session. Everything lives in the database: a page shown by one
// replica can be posted to another.

// LoginRequestLifetime is how long a login page stays usable.
const LoginRequestLifetime = 10 * time.Minute

// Errors of the browser operations.
var (
	// ErrLoginGone: the pending request is unknown, expired or finished.
	ErrLoginGone = errors.New("core: the sign-in request is unknown, expired or already finished")
	// ErrBadCSRF: the form's CSRF token is not the request's.
	ErrBadCSRF = errors.New("core: the form's CSRF token does not match its sign-in request")
)

// PendingLogin is a stored authorization request waiting for a login: ID
// and CSRF go into the login form.
type PendingLogin struct {
	ID, CSRF string
}

// StartLogin stores r as a pending request and returns the values for its
// login form. A failure is ErrUnavailable.
func (c *Core) StartLogin(ctx context.Context, r *AuthorizeRequest) (*PendingLogin, error) {
	id, err := randomToken("")
	if err != nil {
		return nil, err
	}
	csrf, err := randomToken("")
	if err != nil {
		return nil, err
	}
	now := c.now()
	err = c.store.CreateLoginRequest(ctx, &storage.LoginRequest{
		IDHash: Signature(id), CSRFHash: Signature(csrf), ClientID: r.Client.ID,
		Form: r.Form.Encode(), CreatedAt: now, ExpiresAt: now.Add(LoginRequestLifetime),
	})
	if err != nil {
		return nil, unavailable("store login request", err)
	}
	return &PendingLogin{ID: id, CSRF: csrf}, nil
}

// ResumeLogin finds the pending request id, checks the form's csrf against
// it (constant time) and parses its authorization request again against
// this snapshot (a reload may have changed the client). Errors:
// ErrLoginGone, ErrBadCSRF, an *AuthorizeError, ErrUnavailable. It reads
// only.
func (c *Core) ResumeLogin(ctx context.Context, id, csrf string) (*AuthorizeRequest, error) {
	if id == "" || len(id) > 100 {
		return nil, ErrLoginGone
	}
	p, err := c.store.GetLoginRequest(ctx, Signature(id))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, ErrLoginGone
	case err != nil:
		return nil, unavailable("read login request", err)
	case p.Done || !c.now().Before(p.ExpiresAt):
		return nil, ErrLoginGone
	}
	if subtle.ConstantTimeCompare([]byte(Signature(csrf)), []byte(p.CSRFHash)) != 1 {
		return nil, ErrBadCSRF
	}
	form, err := url.ParseQuery(p.Form)
	if err != nil {
		return nil, ErrLoginGone
	}
	return c.ParseAuthorize(ctx, form)
}

// BrowserSession is a signed-in browser: SID is its public id, Cookie the
// value to set (only when just created).
type BrowserSession struct {
	SID, Realm, UserID, Username string
	AuthTime                     time.Time
	// AMR are the RFC 8176 methods the person signed in with: ["pwd"],
	// or ["hwk", "user"] for a passkey that verified the user.
	AMR       []string
	Cookie    string
	ExpiresAt time.Time
}

// CompleteLogin finishes the pending request id for user (who has just
// passed the password check or a passkey's, as amr says) and starts a
// browser session for them:
// exactly once per request, whatever the number of concurrent posts
// (ErrLoginGone for the others). also, when given, runs in the same
// transaction (a passkey's ceremony used up with the sign-in it gives):
// its error rolls everything back and is returned as it is. A failure is
// ErrUnavailable.
func (c *Core) CompleteLogin(ctx context.Context, id string, user *accounts.User, amr []string, also ...func(ctx context.Context) error) (*BrowserSession, error) {
	cookie, err := randomToken("")
	if err != nil {
		return nil, err
	}
	sid, err := randomToken("")
	if err != nil {
		return nil, err
	}
	now := c.now().UTC().Truncate(time.Second)
	b := &BrowserSession{SID: sid, Realm: user.Realm, UserID: user.ID, Username: user.Username, AuthTime: now, AMR: amr, Cookie: cookie, ExpiresAt: now.Add(c.snap.Sessions.TTL)}
	var alsoErr error
	err = c.store.InTx(ctx, func(ctx context.Context) error {
		if err := c.store.FinishLoginRequest(ctx, Signature(id), now); err != nil {
			return err
		}
		if err := c.store.CreateBrowserSession(ctx, &storage.BrowserSession{
			IDHash: Signature(cookie), SID: sid, Realm: user.Realm, UserID: user.ID, Username: user.Username,
			AuthTime: now, LastSeen: now, ExpiresAt: b.ExpiresAt, AMR: strings.Join(amr, " "),
		}); err != nil {
			return err
		}
		for _, f := range also {
			if alsoErr = f(ctx); alsoErr != nil {
				return alsoErr
			}
		}
		return nil
	})
	switch {
	case alsoErr != nil:
		return nil, alsoErr
	case errors.Is(err, storage.ErrAlreadyUsed):
		return nil, ErrLoginGone
	case err != nil:
		return nil, unavailable("start browser session", err)
	}
	return b, nil
}

// touchEvery is how stale last_seen may get before a use writes it: an
// idle timeout of hours needs no write per page.
const touchEvery = time.Minute

// Session returns the live browser session of cookie in realm, or nil: a
// session that is unknown, past sessions.ttl, idle past
// sessions.idle_timeout, of another realm or whose user is no longer
// active is no session. A failure is ErrUnavailable.
func (c *Core) Session(ctx context.Context, cookie, realm string) (*BrowserSession, error) {
	if cookie == "" || len(cookie) > 100 {
		return nil, nil
	}
	b, err := c.store.GetBrowserSession(ctx, Signature(cookie))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, unavailable("read browser session", err)
	}
	now := c.now()
	if !now.Before(b.ExpiresAt) || now.Sub(b.LastSeen) >= c.snap.Sessions.IdleTimeout || b.Realm != realm {
		return nil, nil
	}
	if b.UserStatus != accounts.StatusActive {
		return nil, nil // the user is gone or deactivated
	}
	if now.Sub(b.LastSeen) >= touchEvery {
		if err := c.store.TouchBrowserSession(ctx, b.IDHash, now); err != nil {
			return nil, unavailable("touch browser session", err)
		}
	}
	return &BrowserSession{SID: b.SID, Realm: b.Realm, UserID: b.UserID, Username: b.Username, AuthTime: b.AuthTime, AMR: strings.Fields(b.AMR),
		ExpiresAt: b.ExpiresAt}, nil
}

// ConsumeLogin marks the pending request id used (a consent form takes
// it): exactly once, else ErrLoginGone. A failure is ErrUnavailable.
func (c *Core) ConsumeLogin(ctx context.Context, id string) error {
	err := c.store.FinishLoginRequest(ctx, Signature(id), c.now())
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		return ErrLoginGone
	case err != nil:
		return unavailable("finish login request", err)
	}
	return nil
}

// ConsentNeeded reports whether the user must be asked before r is
// finished: always for prompt=consent; for a client with consent:
// required, unless the user already allowed it every requested scope.
func (c *Core) ConsentNeeded(ctx context.Context, r *AuthorizeRequest, userID string) (bool, error) {
	if r.HasPrompt(PromptConsent) {
		return true, nil
	}
	if r.Client.Consent != config.ConsentRequired {
		return false, nil
	}
	granted, err := c.store.GetConsent(ctx, r.Client.Realm, userID, r.Client.ID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return true, nil
	case err != nil:
		return false, unavailable("read consent", err)
	}
	for _, s := range r.Scopes {
		if !slices.Contains(granted, s) {
			return true, nil
		}
	}
	return false, nil
}

// GrantConsent remembers that the user allowed the client r's scopes (with
// what they allowed before). A failure is ErrUnavailable.
func (c *Core) GrantConsent(ctx context.Context, r *AuthorizeRequest, userID string) error {
	granted, err := c.store.GetConsent(ctx, r.Client.Realm, userID, r.Client.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return unavailable("read consent", err)
	}
	for _, s := range r.Scopes {
		if !slices.Contains(granted, s) {
			granted = append(granted, s)
		}
	}
	if err := c.store.SaveConsent(ctx, r.Client.Realm, userID, r.Client.ID, granted, c.now()); err != nil {
		return unavailable("save consent", err)
	}
	return nil
}

// EndSession ends the browser session of cookie, if there is one, and
// revokes every grant made through it (RP-initiated logout), in one
// transaction. A failure is ErrUnavailable.
func (c *Core) EndSession(ctx context.Context, cookie string) error {
	if cookie == "" || len(cookie) > 100 {
		return nil
	}
	b, err := c.store.GetBrowserSession(ctx, Signature(cookie))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return unavailable("read browser session", err)
	}
	grants, err := c.store.SessionGrants(ctx, b.SID)
	if err != nil {
		return unavailable("read the session's grants", err)
	}
	err = c.store.InTx(ctx, func(ctx context.Context) error {
		for _, g := range grants {
			if err := c.store.RevokeGrant(ctx, g); err != nil {
				return err
			}
		}
		return c.store.DeleteBrowserSession(ctx, b.IDHash)
	})
	if err != nil {
		return unavailable("end browser session", err)
	}
	return nil
}
