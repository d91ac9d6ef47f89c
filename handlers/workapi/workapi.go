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
	"github.com/latchkey/latchkey/inbound"
)

// Handler serves the Work API routes.
type Handler struct {
	// Current returns the core of the config snapshot in force.
	Current func() *core.Core
	// Logger receives server-side failures.
	Logger *slog.Logger
}

// Register mounts the routes under prefix (compat.workapi.prefix).
func (h *Handler) Register(r gin.IRouter, prefix string) {
	g := r.Group(prefix)
	g.Use(h.enabled)
	g.POST("/users", h.create)
	g.GET("/users/me", h.me)
	g.POST("/users/reauth", h.reauth)
}

// enabled answers 404 once a reload has switched the surface off.
func (h *Handler) enabled(c *gin.Context) {
	if !h.Current().Snap.Compat.WorkAPI.Enabled {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not_found", "message": "The Work API surface is disabled (compat.workapi.enabled)."})
		return
	}
	c.Next()
}

// userObject is the seed's User model.
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

// errAPT answers 401 invalid_apt with the reason (SPEC §4).
func errAPT(c *gin.Context, reason string) {
	c.Header("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token"`)
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "invalid_apt", "message": reason})
}

// errToken answers 401 invalid_token (SPEC §4: exactly {"error":"invalid_token"}).
func errToken(c *gin.Context) {
	c.Header("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token"`)
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "invalid_token"})
}

func (h *Handler) fail(c *gin.Context, err error) {
	h.Logger.Error("work API request failed on the server side", "route", c.FullPath(),
		"request_id", c.Writer.Header().Get("X-Request-Id"), "error", err)
	c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "server_error",
		"message": "Internal error; quote request id " + c.Writer.Header().Get("X-Request-Id") + " when reporting it."})
}

// bearer reads Authorization: Bearer <token>.
func bearer(c *gin.Context) string {
	scheme, token, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// verifyAPT checks the request's APT; on failure it has answered.
func (h *Handler) verifyAPT(c *gin.Context, cr *core.Core) (*inbound.APT, bool) {
	raw := bearer(c)
	if raw == "" {
		errAPT(c, "Send the Account Provider Token in the Authorization header, as Bearer followed by the token.")
		return nil, false
	}
	apt, err := inbound.VerifyAPT(raw, cr.Snap, cr.TokenURL, cr.Now())
	if err != nil {
		errAPT(c, inbound.Reason(err))
		return nil, false
	}
	return apt, true
}

// userSession is the session of a Work API user token.
func userSession(u *accounts.User, env *config.Environment) *core.Session {
	return &core.Session{Subject: u.ID, Kind: core.KindUser, Realm: env.Realm, Environment: env.GUID}
}

// errUserExists and errNoUser carry route outcomes out of transactions.
var (
	errUserExists = errors.New("workapi: user exists")
	errReplayed   = errors.New("workapi: APT replayed")
)

// consume records the APT's jti in ctx's transaction.
func consume(ctx context.Context, cr *core.Core, apt *inbound.APT) error {
	if err := apt.Consume(ctx, cr.Store); err != nil {
		if errors.Is(err, inbound.ErrReplayed) {
			return errReplayed
		}
		return err
	}
	return nil
}

// create serves POST /users: a new user for the APT's arbitrary_id and its
// first token, in one transaction with the APT's jti, so a failure leaves
// no user, no token and an unused APT.
func (h *Handler) create(c *gin.Context) {
	cr := h.Current()
	apt, ok := h.verifyAPT(c, cr)
	if !ok {
		return
	}
	env := apt.Environment
	var user *accounts.User
	var issued *core.Issued
	err := cr.Store.InTx(c.Request.Context(), func(ctx context.Context) error {
		if err := consume(ctx, cr, apt); err != nil {
			return err
		}
		var err error
		user, err = cr.Accounts.Create(ctx, cr.Snap.Realm(env.Realm), accounts.NewUser{ArbitraryID: apt.ArbitraryID, EnvironmentGUID: env.GUID})
		if errors.Is(err, accounts.ErrArbitraryIDTaken) {
			return errUserExists
		}
		if err != nil {
			return err
		}
		issued, err = cr.Issue(ctx, core.IssueRequest{Client: cr.Client(env.Client), Session: userSession(user, env),
			ExpiresAt: cr.Now().Add(env.UserTokenTTL)})
		return err
	})
	switch {
	case errors.Is(err, errUserExists):
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": "user_exists"})
	case errors.Is(err, errReplayed):
		errAPT(c, "This APT's jti was already used; sign a new APT for every request.")
	case err != nil:
		h.fail(c, err)
	default:
		c.JSON(http.StatusCreated, newUserObject(user, issued))
	}
}

// reauth serves POST /users/reauth: a new token (a new grant) for the
// existing user of the APT's arbitrary_id.
func (h *Handler) reauth(c *gin.Context) {
	cr := h.Current()
	apt, ok := h.verifyAPT(c, cr)
	if !ok {
		return
	}
	env := apt.Environment
	user, err := cr.Accounts.GetByArbitraryID(c.Request.Context(), env.Realm, env.GUID, apt.ArbitraryID)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not_found", "message": "No user with this arbitrary_id in the environment; create it with POST /users."})
		return
	case err != nil:
		h.fail(c, err)
		return
	case user.Status != accounts.StatusActive:
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "user_deactivated", "message": "The user is deactivated."})
		return
	}
	var issued *core.Issued
	err = cr.Store.InTx(c.Request.Context(), func(ctx context.Context) error {
		if err := consume(ctx, cr, apt); err != nil {
			return err
		}
		issued, err = cr.Issue(ctx, core.IssueRequest{Client: cr.Client(env.Client), Session: userSession(user, env),
			ExpiresAt: cr.Now().Add(env.UserTokenTTL)})
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
func (h *Handler) me(c *gin.Context) {
	cr := h.Current()
	ctx := c.Request.Context()
	info, err := cr.ValidateToken(ctx, bearer(c), fosite.AccessToken)
	if err != nil {
		h.fail(c, err)
		return
	}
	if info == nil || info.Use != fosite.AccessToken || info.Session.Kind != core.KindUser || info.Session.Environment == "" {
		errToken(c)
		return
	}
	env := cr.Snap.Environment(info.Session.Environment)
	cl := cr.Client(info.Request.GetClient().GetID())
	if env == nil || cl == nil || env.Client != cl.ID {
		errToken(c)
		return
	}
	user, err := cr.Accounts.Get(ctx, env.Realm, info.Session.Subject)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		errToken(c)
		return
	case err != nil:
		h.fail(c, err)
		return
	case user.Status != accounts.StatusActive:
		errToken(c)
		return
	}
	first := info.Request.GetRequestedAt()
	exp := cr.Now().Add(env.UserTokenTTL)
	if limit := first.Add(fosite.GetEffectiveLifespan(cl, fosite.GrantTypeRefreshToken, fosite.RefreshToken, cr.Snap.Tokens.RefreshTokenTTL)); limit.Before(exp) {
		exp = limit
	}
	if !exp.After(cr.Now()) {
		errToken(c) // the grant has reached its maximum age: the provider re-authenticates with an APT
		return
	}
	issued, err := cr.Issue(ctx, core.IssueRequest{Client: cl, Session: userSession(user, env), ExpiresAt: exp,
		GrantID: info.Request.GetID(), RequestedAt: first})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserObject(user, issued))
}
