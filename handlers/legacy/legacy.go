package legacy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/surface"
)

// Surface is the legacy API's surface contract.
type Surface struct{}

var _ surface.Surface = Surface{}

// Name returns "legacy".
func (Surface) Name() string { return "legacy" }

// Prefix returns compat.legacy's prefix and switch.
func (Surface) Prefix(snap *config.Snapshot) (string, bool) {
	return snap.Compat.Legacy.Prefix, snap.Compat.Legacy.Enabled
}

// Mount registers the routes for env's snapshot.
func (Surface) Mount(r gin.IRouter, env surface.Env) {
	newHandler(env.Core, env.Accounts, env.Logger).register(r)
}

func newHandler(c coreOps, u users, log *slog.Logger) *handler {
	return &handler{core: c, users: u, log: log}
}

func (h *handler) register(r gin.IRouter) {
	r.POST("/users", h.signup)
	r.PATCH("/users", h.authenticate, h.update)
	r.POST("/users/token", h.login)
	r.POST("/users/token/refresh", h.refresh)
	r.DELETE("/users/token", h.authenticate, h.logout)
}

// coreOps are the core operations the legacy API calls.
type coreOps interface {
	Snapshot() *config.Snapshot
	Client(id string) *core.Client
	Prepare(ctx context.Context, req core.IssueRequest) (core.Pending, error)
	Issue(ctx context.Context, req core.IssueRequest) (*core.Issued, error)
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
	Refresh(ctx context.Context, req core.RefreshRequest) (*core.Issued, error)
	Authenticate(ctx context.Context, token string) (*core.Principal, error)
	RevokeGrant(ctx context.Context, grantID string) error
}

// users are the accounts operations the legacy API calls.
type users interface {
	Prepare(ctx context.Context, realm *config.Realm, in accounts.NewUser) (*accounts.PreparedUser, error)
	Insert(ctx context.Context, p *accounts.PreparedUser) (*accounts.User, error)
	VerifyPasswordByEmail(ctx context.Context, realm *config.Realm, email, password string) (*accounts.User, error)
	Update(ctx context.Context, realm *config.Realm, userID string, ch accounts.Changes, keepGrantID string) (*accounts.User, error)
}

// handler serves the legacy routes of one snapshot.
type handler struct {
	core  coreOps
	users users
	log   *slog.Logger
}

// writeError is the legacy API's one error writer: {"error": code,
// "message": text}. 401s carry a Basic challenge, 503s Retry-After.
func writeError(c *gin.Context, status int, code, message string) {
	switch status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Basic realm="latchkey"`)
	case http.StatusServiceUnavailable:
		surface.Unavailable(c)
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, gin.H{"error": code, "message": message})
}

func errUnauthorized(c *gin.Context, code, message string) {
	writeError(c, http.StatusUnauthorized, code, message)
}

func errRequest(c *gin.Context, message string) {
	writeError(c, http.StatusBadRequest, "invalid_request", message)
}

// fail answers a failure of the server's side. A request that may succeed
// when retried — the database did not answer — is 503 with Retry-After:
// that is what every unexpected error from below is (accounts reports a
// database failure as a plain error), but for a misuse of the operations
// (hashing or signing inside a transaction) or an internal error of the
// provider, which are 500. The cause goes to the log, never the client.
func (h *handler) fail(c *gin.Context, err error) {
	rid := c.Writer.Header().Get("X-Request-Id")
	h.log.Error("legacy API request failed on the server side", "route", c.FullPath(), "request_id", rid, "error", err)
	var rfc *fosite.RFC6749Error
	if errors.Is(err, accounts.ErrHashInTransaction) || errors.Is(err, core.ErrInTransaction) ||
		(errors.As(err, &rfc) && rfc.ErrorField == fosite.ErrServerError.ErrorField) {
		writeError(c, http.StatusInternalServerError, "server_error", "Internal error; quote request id "+rid+" when reporting it.")
		return
	}
	writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The server could not complete the request; retry in a moment.")
}

// busy answers a request refused because too many password hashes run.
func busy(c *gin.Context) {
	writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "Too many passwords are being checked at once; retry in a moment.")
}

// legacyClient resolves the body's client: one of compat.legacy.clients of
// this snapshot. On failure it has answered 400.
func (h *handler) legacyClient(c *gin.Context, id string) (*core.Client, bool) {
	if id == "" {
		errRequest(c, "Name your client in the client field.")
		return nil, false
	}
	cl := h.core.Client(id)
	if cl == nil || !h.isLegacyClient(cl) {
		writeError(c, http.StatusBadRequest, "invalid_client", "Unknown client "+quote(id)+": the client field must name one of the server's legacy clients.")
		return nil, false
	}
	return cl, true
}

// isLegacyClient reports whether cl is one of compat.legacy.clients, and
// able to log users in and refresh (the config loader already insists).
func (h *handler) isLegacyClient(cl *core.Client) bool {
	if cl == nil || !slices.Contains(h.core.Snapshot().Compat.Legacy.Clients, cl.ID) {
		return false
	}
	return cl.HasGrant(config.GrantPassword) && cl.HasGrant(config.GrantRefreshToken)
}

// quote shows a caller's value in a message, shortened.
func quote(s string) string {
	const max = 64
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return `"` + strings.ToValidUTF8(s, "\uFFFD") + `"`
}

// invalidUser answers a *ValidationError (or another ErrInvalidUser) with
// every problem at once.
func invalidUser(c *gin.Context, err error) {
	var ve *accounts.ValidationError
	msg := "The user's fields are not valid."
	if errors.As(err, &ve) && len(ve.Problems) > 0 {
		msgs := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			msgs[i] = p.Message
		}
		msg = sentence(strings.Join(msgs, "; "))
	}
	writeError(c, http.StatusBadRequest, "invalid_user", msg)
}

// sentence starts s with a capital letter and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// emailTaken is the 409 of a sign-up or an e-mail change.
func emailTaken(c *gin.Context) {
	writeError(c, http.StatusConflict, "email_taken", "Another user already has this e-mail address.")
}

// errUserExists carries a taken e-mail out of the sign-up transaction.
var errUserExists = errors.New("legacy: e-mail taken")

// signup serves POST /users: a new user of the client's realm and a first
// login. The user is validated and its password hashed, and the tokens
// signed, before one transaction inserts the user and stores the tokens, so
// a failure leaves neither.
func (h *handler) signup(c *gin.Context) {
	var in signupBody
	if !bind(c, &in) {
		return
	}
	cl, ok := h.legacyClient(c, in.Client)
	if !ok {
		return
	}
	if in.Role != nil {
		errRequest(c, "The role cannot be chosen at sign-up; an administrator sets it.")
		return
	}
	if missing := missingFields(field{"email", in.Email}, field{"password", in.Password}); missing != "" {
		errRequest(c, missing)
		return
	}
	ctx := c.Request.Context()
	realm := h.core.Snapshot().Realm(cl.Realm)
	prepared, err := h.users.Prepare(ctx, realm, accounts.NewUser{Email: in.Email, Password: in.Password, FirstName: in.FirstName, LastName: in.LastName})
	switch {
	case errors.Is(err, accounts.ErrInvalidUser):
		invalidUser(c, err)
		return
	case errors.Is(err, accounts.ErrBusy):
		busy(c)
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	req := core.IssueRequest{Client: cl, UserID: prepared.ID(), Realm: cl.Realm, WithRefresh: true}
	if realm.UsernameIsEmail {
		req.Username = strings.TrimSpace(in.Email)
	}
	pending, err := h.core.Prepare(ctx, req)
	if err != nil {
		h.fail(c, err)
		return
	}
	var user *accounts.User
	var issued *core.Issued
	err = h.core.Atomically(ctx, func(ctx context.Context) error {
		var err error
		user, err = h.users.Insert(ctx, prepared)
		if errors.Is(err, accounts.ErrEmailTaken) || errors.Is(err, accounts.ErrUsernameTaken) {
			return errUserExists
		}
		if err != nil {
			return err
		}
		issued, err = pending.Save(ctx)
		return err
	})
	switch {
	case errors.Is(err, errUserExists):
		emailTaken(c)
	case errors.Is(err, accounts.ErrInvalidUser):
		invalidUser(c, err)
	case err != nil:
		h.fail(c, err)
	default:
		writeTokens(c, http.StatusCreated, user.Role, issued.GrantID, issued.AccessToken, issued.RefreshToken, issued.ExpiresAt)
	}
}

// login serves POST /users/token: the one password check, by e-mail, in
// the client's realm (lockout, bounded hashing, one answer for an unknown
// e-mail, a wrong password and a deactivated user), then a new grant as
// the client.
func (h *handler) login(c *gin.Context) {
	var in loginBody
	if !bind(c, &in) {
		return
	}
	cl, ok := h.legacyClient(c, in.Client)
	if !ok {
		return
	}
	if missing := missingFields(field{"email", in.Email}, field{"password", in.Password}); missing != "" {
		errRequest(c, missing)
		return
	}
	ctx := c.Request.Context()
	user, err := h.users.VerifyPasswordByEmail(ctx, h.core.Snapshot().Realm(cl.Realm), in.Email, in.Password)
	switch {
	case errors.Is(err, accounts.ErrInvalidCredentials):
		errUnauthorized(c, "invalid_credentials", "The e-mail address or the password is wrong.")
		return
	case errors.Is(err, accounts.ErrBusy):
		busy(c)
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	issued, err := h.core.Issue(ctx, core.IssueRequest{Client: cl, UserID: user.ID, Realm: cl.Realm, Username: user.Username, WithRefresh: true})
	if err != nil {
		h.fail(c, err)
		return
	}
	writeTokens(c, http.StatusOK, user.Role, issued.GrantID, issued.AccessToken, issued.RefreshToken, issued.ExpiresAt)
}

// refresh serves POST /users/token/refresh with the refresh grant's rules:
// the token must be the client's, unexpired and unrevoked, and key its
// grant — checked before anything is written, so a wrong key changes
// nothing; then the token is rotated (a used one revokes the whole grant)
// and the new pair returned, in the same grant.
func (h *handler) refresh(c *gin.Context) {
	var in refreshBody
	if !bind(c, &in) {
		return
	}
	cl, ok := h.legacyClient(c, in.Client)
	if !ok {
		return
	}
	if missing := missingFields(field{"key", in.Key}, field{"refresh", in.Refresh}); missing != "" {
		errRequest(c, missing)
		return
	}
	issued, err := h.core.Refresh(c.Request.Context(), core.RefreshRequest{Client: cl, RefreshToken: in.Refresh, GrantID: in.Key})
	switch {
	case errors.Is(err, core.ErrGrantMismatch):
		errUnauthorized(c, "invalid_grant", "The refresh token does not belong to this key.")
		return
	case err != nil:
		h.refreshError(c, err)
		return
	case issued.RefreshToken == "":
		h.fail(c, errors.New("legacy: the refresh issued no token pair"))
		return
	}
	writeTokens(c, http.StatusOK, "", issued.GrantID, issued.AccessToken, issued.RefreshToken, issued.ExpiresAt)
}

// refreshError answers an error of the refresh rules: a refused token is
// 401 invalid_grant with the rules' own sentence (unknown, expired,
// revoked, already used — which has revoked the grant — or of a
// deactivated user); a database that does not answer is 503.
func (h *handler) refreshError(c *gin.Context, err error) {
	var rfc *fosite.RFC6749Error
	switch {
	case errors.Is(err, fosite.ErrTemporarilyUnavailable) || surface.IsUnavailable(err):
		h.fail(c, err)
	case errors.As(err, &rfc) && rfc.ErrorField == fosite.ErrInvalidGrant.ErrorField:
		msg := rfc.HintField
		if msg == "" {
			msg = "The refresh token is invalid, expired, revoked or was already used."
		}
		errUnauthorized(c, "invalid_grant", msg)
	case errors.As(err, &rfc) && rfc.ErrorField == fosite.ErrUnauthorizedClient.ErrorField:
		writeError(c, http.StatusBadRequest, "invalid_client", "This client may not refresh tokens.")
	default:
		h.fail(c, err)
	}
}

// logout serves DELETE /users/token: the login's grant — its access and
// refresh tokens, past and present — is revoked.
func (h *handler) logout(c *gin.Context) {
	p := principal(c)
	var in clientBody
	if !bind(c, &in) || !h.sameClient(c, p, in.Client) {
		return
	}
	if err := h.core.RevokeGrant(c.Request.Context(), p.GrantID); err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusNoContent)
}

// sameClient checks an optional client field against the token's client.
func (h *handler) sameClient(c *gin.Context, p *core.Principal, id string) bool {
	if id == "" {
		return true
	}
	cl, ok := h.legacyClient(c, id)
	if !ok {
		return false
	}
	if cl.ID != p.Client.ID {
		errUnauthorized(c, "invalid_token", "The token was issued to another client.")
		return false
	}
	return true
}

// update serves PATCH /users: changes the e-mail, names or password of the
// login's user. A new password revokes every other grant of the user; this
// login stays valid.
func (h *handler) update(c *gin.Context) {
	p := principal(c)
	var in updateBody
	if !bind(c, &in) || !h.sameClient(c, p, in.Client) {
		return
	}
	switch {
	case in.Role != nil:
		errRequest(c, "The role cannot be changed here; an administrator sets it.")
		return
	case in.Email != nil && strings.TrimSpace(*in.Email) == "":
		errRequest(c, "The e-mail address cannot be removed: it is what the user logs in with.")
		return
	}
	realm := h.core.Snapshot().Realm(p.Realm)
	user, err := h.users.Update(c.Request.Context(), realm, p.User.ID,
		accounts.Changes{Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, Password: in.Password}, p.GrantID)
	switch {
	case errors.Is(err, accounts.ErrInvalidUser):
		invalidUser(c, err)
	case errors.Is(err, accounts.ErrEmailTaken) || errors.Is(err, accounts.ErrUsernameTaken):
		emailTaken(c)
	case errors.Is(err, accounts.ErrNotFound):
		errBadToken(c)
	case errors.Is(err, accounts.ErrBusy):
		busy(c)
	case err != nil:
		h.fail(c, err)
	default:
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, newUserObject(user))
	}
}
