package workapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/surface"
	"github.com/latchkey/latchkey/inbound"
)

// Surface is the Work API's surface contract.
type Surface struct{}

var _ surface.Surface = Surface{}

// Name returns "workapi".
func (Surface) Name() string { return "workapi" }

// Prefix returns compat.workapi's prefix and switch.
func (Surface) Prefix(snap *config.Snapshot) (string, bool) {
	return snap.Compat.WorkAPI.Prefix, snap.Compat.WorkAPI.Enabled
}

// Mount registers the routes for env's snapshot.
func (Surface) Mount(r gin.IRouter, env surface.Env) {
	h := &handler{core: env.Core, users: env.Accounts, log: env.Logger}
	r.POST("/users", h.create)
	r.GET("/users/me", h.me)
	r.POST("/users/reauth", h.reauth)
}

// coreOps are the core operations the Work API calls.
type coreOps interface {
	inbound.OnceRecorder
	Snapshot() *config.Snapshot
	TokenURL() string
	Now() time.Time
	Client(id string) *core.Client
	Prepare(ctx context.Context, req core.IssueRequest) (core.Pending, error)
	Issue(ctx context.Context, req core.IssueRequest) (*core.Issued, error)
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
	Authenticate(ctx context.Context, token string) (*core.Principal, error)
}

// users are the accounts operations the Work API calls.
type users interface {
	Prepare(ctx context.Context, realm *config.Realm, in accounts.NewUser) (*accounts.PreparedUser, error)
	Insert(ctx context.Context, p *accounts.PreparedUser) (*accounts.User, error)
	GetByArbitraryID(ctx context.Context, realmID, guid, arbitraryID string) (*accounts.User, error)
}

// handler serves the Work API routes of one snapshot.
type handler struct {
	core  coreOps
	users users
	log   *slog.Logger
}

// userObject is the Work API's User model.
type userObject struct {
	ID              string `json:"id"`
	ArbitraryID     string `json:"arbitrary_id"`
	EnvironmentGUID string `json:"environment_guid"`
	Token           string `json:"token"`
	TokenExpiresAt  string `json:"token_expires_at"`
	CreatedAt       string `json:"created_at"`
}

func newUserObject(u *accounts.User, t *core.Issued) userObject {
	return userObject{
		ID: u.ID, ArbitraryID: u.ArbitraryID, EnvironmentGUID: u.EnvironmentGUID, Token: t.AccessToken,
		TokenExpiresAt: t.ExpiresAt.UTC().Format(time.RFC3339), CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339),
	}
}

// writeError is the Work API's one error writer: {"error": code} and, when
// there is one, "message". 401s carry a Bearer challenge, 503s Retry-After.
func writeError(c *gin.Context, status int, code, message string) {
	switch status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token"`)
	case http.StatusServiceUnavailable:
		surface.Unavailable(c)
	}
	body := gin.H{"error": code}
	if message != "" {
		body["message"] = message
	}
	c.AbortWithStatusJSON(status, body)
}

// errAPT answers 401 invalid_apt with the reason.
func errAPT(c *gin.Context, reason string) {
	writeError(c, http.StatusUnauthorized, "invalid_apt", reason)
}

// errToken answers 401 invalid_token (exactly {"error":"invalid_token"}).
func errToken(c *gin.Context) {
	writeError(c, http.StatusUnauthorized, "invalid_token", "")
}

// fail answers a failure of the server's side: 503 when retrying may help
// (the database did not answer), else 500; the cause goes to the log.
func (h *handler) fail(c *gin.Context, err error) {
	rid := c.Writer.Header().Get("X-Request-Id")
	h.log.Error("work API request failed on the server side", "route", c.FullPath(), "request_id", rid, "error", err)
	if surface.IsUnavailable(err) || errors.Is(err, fosite.ErrTemporarilyUnavailable) {
		writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The server could not complete the request; retry in a moment.")
		return
	}
	writeError(c, http.StatusInternalServerError, "server_error", "Internal error; quote request id "+rid+" when reporting it.")
}

// verifyAPT checks the request's APT; on failure it has answered.
func (h *handler) verifyAPT(c *gin.Context) (*inbound.APT, bool) {
	raw, ok := surface.Bearer(c.Request)
	if !ok {
		errAPT(c, "Send the Account Provider Token in the Authorization header, as Bearer followed by the token.")
		return nil, false
	}
	apt, err := inbound.VerifyAPT(raw, h.core.Snapshot(), h.core.TokenURL(), h.core.Now())
	if err != nil {
		errAPT(c, inbound.Reason(err))
		return nil, false
	}
	return apt, true
}

// errUserExists and errReplayed carry route outcomes out of transactions.
var (
	errUserExists = errors.New("workapi: user exists")
	errReplayed   = errors.New("workapi: APT replayed")
)

// consume records the APT's jti in ctx's transaction.
func (h *handler) consume(ctx context.Context, apt *inbound.APT) error {
	if err := apt.Consume(ctx, h.core); err != nil {
		if errors.Is(err, inbound.ErrReplayed) {
			return errReplayed
		}
		return err
	}
	return nil
}

// prepareToken signs a new grant's token for the environment's user userID
// as the environment's client, of the environment's user_token_ttl, before
// any transaction; on failure it has answered.
func (h *handler) prepareToken(c *gin.Context, env *config.Environment, userID string) (core.Pending, bool) {
	cl := h.core.Client(env.Client)
	if cl == nil {
		h.fail(c, errors.New("workapi: the environment's client is not declared"))
		return nil, false
	}
	pending, err := h.core.Prepare(c.Request.Context(), core.IssueRequest{Client: cl, UserID: userID, Realm: env.Realm,
		Environment: env.GUID, ExpiresAt: h.core.Now().Add(env.UserTokenTTL)})
	if err != nil {
		h.fail(c, err)
		return nil, false
	}
	return pending, true
}

// create serves POST /users: a new user for the APT's arbitrary_id and its
// first token. The user is prepared and the token signed first; then one
// transaction records the APT's jti, inserts the user and stores the token,
// so a failure leaves no user, no token and an unused APT.
func (h *handler) create(c *gin.Context) {
	apt, ok := h.verifyAPT(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	env := apt.Environment
	snap := h.core.Snapshot()
	prepared, err := h.users.Prepare(ctx, snap.Realm(env.Realm), accounts.NewUser{ArbitraryID: apt.ArbitraryID, EnvironmentGUID: env.GUID})
	if errors.Is(err, accounts.ErrInvalidUser) {
		errAPT(c, "The APT's arbitrary_id cannot name a user: "+err.Error())
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	pending, ok := h.prepareToken(c, env, prepared.ID())
	if !ok {
		return
	}
	var user *accounts.User
	var issued *core.Issued
	err = h.core.Atomically(ctx, func(ctx context.Context) error {
		if err := h.consume(ctx, apt); err != nil {
			return err
		}
		var err error
		user, err = h.users.Insert(ctx, prepared)
		if errors.Is(err, accounts.ErrArbitraryIDTaken) {
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
		writeError(c, http.StatusConflict, "user_exists", "")
	case errors.Is(err, errReplayed):
		errAPT(c, "This APT's jti was already used; sign a new APT for every request.")
	case err != nil:
		h.fail(c, err)
	default:
		c.JSON(http.StatusCreated, newUserObject(user, issued))
	}
}

// reauth serves POST /users/reauth: a new token (a new grant) for the
// existing user of the APT's arbitrary_id, signed before the transaction
// that records the jti and stores it.
func (h *handler) reauth(c *gin.Context) {
	apt, ok := h.verifyAPT(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	env := apt.Environment
	user, err := h.users.GetByArbitraryID(ctx, env.Realm, env.GUID, apt.ArbitraryID)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		writeError(c, http.StatusNotFound, "not_found", "No user with this arbitrary_id in the environment; create it with POST "+
			strings.TrimSuffix(c.FullPath(), "/reauth")+".")
		return
	case err != nil:
		h.fail(c, err)
		return
	case user.Status != accounts.StatusActive:
		writeError(c, http.StatusForbidden, "user_deactivated", "The user is deactivated.")
		return
	}
	pending, ok := h.prepareToken(c, env, user.ID)
	if !ok {
		return
	}
	var issued *core.Issued
	err = h.core.Atomically(ctx, func(ctx context.Context) error {
		if err := h.consume(ctx, apt); err != nil {
			return err
		}
		var err error
		issued, err = pending.Save(ctx)
		return err
	})
	switch {
	case errors.Is(err, errReplayed):
		errAPT(c, "This APT's jti was already used; sign a new APT for every request.")
	case err != nil:
		h.fail(c, err)
	default:
		c.JSON(http.StatusOK, newUserObject(user, issued))
	}
}

// me serves GET /users/me: for an active user token issued for a Work API
// environment, a fresh token in the same grant. The old token stays valid
// until it expires; the new one never outlives the grant's first issuance
// plus the client's refresh_token_ttl, so a stolen token cannot be renewed
// forever.
func (h *handler) me(c *gin.Context) {
	ctx := c.Request.Context()
	token, _ := surface.Bearer(c.Request)
	p, err := h.core.Authenticate(ctx, token)
	switch {
	case errors.Is(err, core.ErrUnauthenticated):
		errToken(c)
		return
	case err != nil:
		h.fail(c, err)
		return
	case p.Kind != core.KindUser || p.Environment == "":
		errToken(c)
		return
	}
	snap := h.core.Snapshot()
	env := snap.Environment(p.Environment)
	if env == nil || env.Client != p.Client.ID || env.Realm != p.Realm {
		errToken(c)
		return
	}
	now := h.core.Now()
	exp := now.Add(env.UserTokenTTL)
	if limit := p.GrantedAt.Add(fosite.GetEffectiveLifespan(p.Client, fosite.GrantTypeRefreshToken, fosite.RefreshToken, snap.Tokens.RefreshTokenTTL)); limit.Before(exp) {
		exp = limit
	}
	if !exp.After(now) {
		errToken(c) // the grant has reached its maximum age: the provider re-authenticates with an APT
		return
	}
	issued, err := h.core.Issue(ctx, core.IssueRequest{Client: p.Client, UserID: p.User.ID, Realm: p.Realm, Environment: env.GUID,
		ExpiresAt: exp, GrantID: p.GrantID, GrantedAt: p.GrantedAt})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserObject(p.User, issued))
}
