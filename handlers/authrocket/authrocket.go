package authrocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/handlers/surface"
)

// Surface is the AuthRocket surface's contract.
type Surface struct{}

var _ surface.Surface = Surface{}

// Name returns "authrocket".
func (Surface) Name() string { return "authrocket" }

// Prefix returns compat.authrocket's prefix and switch.
func (Surface) Prefix(snap *config.Snapshot) (string, bool) {
	return snap.Compat.AuthRocket.Prefix, snap.Compat.AuthRocket.Enabled
}

// Mount registers the routes for env's snapshot.
func (Surface) Mount(r gin.IRouter, env surface.Env) {
	h := &handler{core: env.Core, signups: env.Accounts, log: env.Logger}
	r.POST("/v1/user_tokens", h.createToken)
	r.GET("/v1/user_tokens/:id", h.getToken)
	r.DELETE("/v1/user_tokens/:id", h.discardToken)
	r.POST("/v1/users", h.convert)
}

// coreOps are the core operations the surface calls.
type coreOps interface {
	Snapshot() *config.Snapshot
}

// signups are the accounts operations the surface calls.
type signups interface {
	ValidateSignupToken(realm *config.Realm, in accounts.NewSignupToken) error
	CreateSignupToken(ctx context.Context, realm *config.Realm, in accounts.NewSignupToken) (*accounts.SignupToken, error)
	GetSignupToken(ctx context.Context, realmID, id string) (*accounts.SignupToken, error)
	DiscardSignupToken(ctx context.Context, realmID, id string) error
	ConvertSignupToken(ctx context.Context, realm *config.Realm, id string) (*accounts.User, error)
}

// handler serves the AuthRocket routes of one snapshot.
type handler struct {
	core    coreOps
	signups signups
	log     *slog.Logger
}

// The request headers of AuthRocket's API.
const (
	headerAPIKey = "X-Authrocket-Api-Key"
	headerRealm  = "X-Authrocket-Realm"
)

// The permissions of an API key.
const (
	permRead  = "read"
	permWrite = "write"
)

// writeErrors is the surface's one error writer: {"errors": [...]}, 503s
// with Retry-After.
func writeErrors(c *gin.Context, status int, messages ...string) {
	if status == http.StatusServiceUnavailable {
		surface.Unavailable(c)
	}
	c.AbortWithStatusJSON(status, gin.H{"errors": messages})
}

// fail answers a failure of the server's side: 503 when retrying may help
// (the database did not answer, or too many passwords are being hashed),
// else 500; the cause goes to the log.
func (h *handler) fail(c *gin.Context, err error) {
	rid := c.Writer.Header().Get("X-Request-Id")
	if surface.IsUnavailable(err) {
		h.log.Warn("AuthRocket request: temporarily unavailable", "route", c.FullPath(), "request_id", rid, "error", err)
		writeErrors(c, http.StatusServiceUnavailable, "The server is busy or could not reach its database; retry in a moment.")
		return
	}
	h.log.Error("AuthRocket request failed on the server side", "route", c.FullPath(), "request_id", rid, "error", err)
	writeErrors(c, http.StatusInternalServerError, "Internal error; quote request id "+rid+" when reporting it.")
}

// authorize checks the request's API key: present and known (else 401),
// of the realm X-Authrocket-Realm names if it names one, and with perm
// (else 403). It returns the key's realm, the request's realm; on failure
// it has answered.
func (h *handler) authorize(c *gin.Context, perm string) (*config.Realm, bool) {
	presented := c.GetHeader(headerAPIKey)
	if presented == "" {
		writeErrors(c, http.StatusUnauthorized, "Send an API key in the "+headerAPIKey+" header.")
		return nil, false
	}
	snap := h.core.Snapshot()
	key := snap.LookupAPIKey(presented)
	if key == nil {
		writeErrors(c, http.StatusUnauthorized, "The API key is not valid.")
		return nil, false
	}
	if realm := c.GetHeader(headerRealm); realm != "" && realm != key.Realm {
		writeErrors(c, http.StatusForbidden, "The API key is not valid for the realm named in "+headerRealm+".")
		return nil, false
	}
	if !slices.Contains(key.Permissions, perm) {
		writeErrors(c, http.StatusForbidden, fmt.Sprintf("The API key lacks the %s permission, which this request needs.", perm))
		return nil, false
	}
	realm := snap.Realm(key.Realm)
	if realm == nil { // the config loader refuses a key of an unknown realm
		h.fail(c, fmt.Errorf("authrocket: API key %s names an unknown realm", key.ID))
		return nil, false
	}
	return realm, true
}

// checkRealmID answers 403 when a body's realm_id is set and is not the
// request's realm.
func checkRealmID(c *gin.Context, realm *config.Realm, realmID string) bool {
	if realmID != "" && realmID != realm.ID {
		writeErrors(c, http.StatusForbidden, "The API key is not valid for the realm named in realm_id.")
		return false
	}
	return true
}

// bindJSON decodes a JSON body into v under the server's body cap. A body
// without a Content-Type is read as JSON, as AuthRocket's clients send
// nothing else; any other type is 415. On failure it has answered.
func bindJSON(c *gin.Context, v any) bool {
	ct := c.GetHeader("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case ct == "":
		c.Request.Header.Set("Content-Type", "application/json")
	case mt != "application/json":
		writeErrors(c, http.StatusUnsupportedMediaType, "Send the body as JSON, with Content-Type: application/json.")
		return false
	}
	// JSON is UTF-8 (RFC 8259 §8.1); Go's decoder would quietly turn other
	// bytes into U+FFFD, storing a name the client never sent.
	raw, err := io.ReadAll(c.Request.Body)
	if err == nil && !utf8.Valid(raw) {
		writeErrors(c, http.StatusBadRequest, "The request body is not valid UTF-8.")
		return false
	}
	// Bind reads it again, and words a read error (an oversized body) itself.
	c.Request.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), errReader{err}))
	if err := surface.Bind(c, v); err != nil {
		status := http.StatusBadRequest
		if be, ok := errors.AsType[*surface.BodyError](err); ok {
			status = be.Status()
		}
		writeErrors(c, status, err.Error())
		return false
	}
	return true
}

// errReader returns err at the end of a re-read body (io.EOF when nil).
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err == nil {
		return 0, io.EOF
	}
	return 0, r.err
}
