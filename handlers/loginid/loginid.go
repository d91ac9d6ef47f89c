package loginid

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/handlers/surface"
	"github.com/latchkey/latchkey/inbound"
)

// Surface is LoginID's surface contract.
type Surface struct{}

var _ surface.Surface = Surface{}

// Name returns "loginid".
func (Surface) Name() string { return "loginid" }

// Prefix returns compat.loginid's prefix and switch.
func (Surface) Prefix(snap *config.Snapshot) (string, bool) {
	return snap.Compat.LoginID.Prefix, snap.Compat.LoginID.Enabled
}

// Mount registers the routes for env's snapshot: every route of the table
// behind its guard, and GET /certs.
func (Surface) Mount(r gin.IRouter, env surface.Env) {
	newHandler(env.Core, env.Accounts, env.Logger).mount(r)
}

func (h *handler) mount(r gin.IRouter) {
	for _, rt := range routes {
		r.Handle(rt.Method, ginPath(rt.Path), h.guard(rt))
	}
	r.GET("/certs", h.certs)
}

// route is one guarded route: its method and path under the prefix (with
// "{name}" parameters), the scope a token must carry, and whether a token
// is required ("Yes") or optional ("Optional": no token is fine, but one
// that is sent is checked in full).
type route struct {
	Method, Path string
	Scope        string
	Required     bool
	serve        func(h *handler, c *gin.Context, cl *caller)
}

// routes are the routes served, with their guards: LoginID's endpoint and
// scope table, and POST /credentials/list, the same as GET /credentials.
// The passkey (fido2) and transaction (/tx) routes answer 501 after their
// guard until passkeys are built.
var routes = []route{
	{"POST", "/manage/users", "users.create", true, (*handler).createUser},
	{"POST", "/manage/users/retrieve", "users.retrieve", true, (*handler).retrieveUser},
	{"POST", "/manage/users/delete", "users.delete", true, (*handler).deleteUserByBody},
	{"DELETE", "/manage/users/{user_id}", "users.delete", true, (*handler).deleteUserByPath},
	{"PUT", "/manage/users/{user_id}/activate", "users.activate", true, (*handler).activateUser},
	{"PUT", "/manage/users/{user_id}/deactivate", "users.deactivate", true, (*handler).deactivateUser},
	{"POST", "/register/password", "auth.register", false, (*handler).registerPassword},
	{"POST", "/authenticate/password", "auth.login", false, (*handler).authenticatePassword},

	{"GET", "/credentials", "credentials.list", true, (*handler).listCredentials},
	{"POST", "/credentials/list", "credentials.list", true, (*handler).listCredentials},
	{"POST", "/credentials/rename", "credentials.rename", true, (*handler).renameCredential},
	{"POST", "/credentials/revoke", "credentials.revoke", true, (*handler).revokeCredential},
	{"POST", "/codes/{type}/generate", "codes.generate", true, (*handler).generateCode},
	{"POST", "/codes/{type}/authorize", "codes.authorize", true, (*handler).authorizeCode},
	{"POST", "/codes/{type}/invalidate-all", "codes.invalidate", true, (*handler).invalidateCodes},

	{"POST", "/register/fido2/init", "auth.register", false, (*handler).notYet},
	{"POST", "/authenticate/fido2/init", "auth.login", false, (*handler).notYet},
	{"POST", "/credentials/fido2/init/code", "credentials.add", false, (*handler).notYet},
	{"POST", "/credentials/fido2/init/force", inbound.ForceAddScope, true, (*handler).notYet},
	{"POST", "/tx", "tx.create", true, (*handler).notYet},
	{"POST", "/tx/init", "tx.create", false, (*handler).notYet},
}

// ginPath turns "{name}" parameters into gin's ":name".
func ginPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			parts[i] = ":" + s[1:len(s)-1]
		}
	}
	return strings.Join(parts, "/")
}

// coreOps are the core operations the LoginID surface calls.
type coreOps interface {
	inbound.OnceRecorder
	Snapshot() *config.Snapshot
	Now() time.Time
	Client(id string) *core.Client
	Prepare(ctx context.Context, req core.IssueRequest) (core.Pending, error)
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
	Authenticate(ctx context.Context, token string) (*core.Principal, error)
	VerifyPassword(ctx context.Context, realmID, login, password string) (*accounts.User, error)
}

// users are the accounts operations the LoginID surface calls.
type users interface {
	Prepare(ctx context.Context, realm *config.Realm, in accounts.NewUser) (*accounts.PreparedUser, error)
	Insert(ctx context.Context, p *accounts.PreparedUser) (*accounts.User, error)
	Get(ctx context.Context, realmID, userID string) (*accounts.User, error)
	GetByUsername(ctx context.Context, realmID, username string) (*accounts.User, error)
	Delete(ctx context.Context, realmID, userID string) error
	SetStatus(ctx context.Context, realmID, userID, status string) error

	Credentials(ctx context.Context, realmID, userID string) ([]*accounts.Credential, error)
	Credential(ctx context.Context, realmID, uuid string) (*accounts.Credential, error)
	EnsurePasswordCredential(ctx context.Context, realmID, userID string) error
	RenameCredential(ctx context.Context, realmID, uuid, name string) (*accounts.Credential, error)
	RevokeCredential(ctx context.Context, realmID, uuid string) (*accounts.Credential, error)

	PrepareCode(realmID, userID, codeType, purpose string, authorized bool) (*accounts.PreparedCode, error)
	InsertCode(ctx context.Context, p *accounts.PreparedCode) (*accounts.Code, error)
	UseCode(ctx context.Context, p *accounts.PresentedCode) error
	InvalidateCodes(ctx context.Context, realmID, userID, purpose string) error
}

// handler serves the LoginID routes of one snapshot.
type handler struct {
	core  coreOps
	users users
	log   *slog.Logger
	// pems maps each signing key's kid to its public key as PEM, made
	// once per snapshot.
	pems map[string][]byte
}

func newHandler(c coreOps, u users, log *slog.Logger) *handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{core: c, users: u, log: log, pems: map[string][]byte{}}
	for _, k := range c.Snapshot().SigningKeys {
		if pem, err := config.EncodePublicKeyPEM(k.Key.Public()); err == nil {
			h.pems[k.KID] = pem
		}
	}
	return h
}

// certs serves GET /certs?kid=: the PEM public key of a configured signing
// key, which LoginID's SDKs fetch to verify the user tokens.
func (h *handler) certs(c *gin.Context) {
	kid := c.Query("kid")
	if kid == "" {
		writeError(c, http.StatusBadRequest, codeInvalidParameter, "Give the key id as the kid query parameter: GET "+c.FullPath()+"?kid=<kid>.")
		return
	}
	pem, ok := h.pems[kid]
	if !ok {
		writeError(c, http.StatusNotFound, codeNotFound, "No signing key has this kid.")
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/x-pem-file", pem)
}

// notYet answers the passkey and transaction routes, after their guard.
func (h *handler) notYet(c *gin.Context, _ *caller) {
	pre := prefixOf(c)
	writeError(c, http.StatusNotImplemented, codeNotImplemented, c.Request.Method+" "+c.FullPath()+
		" is not available yet: passkeys (FIDO2/WebAuthn) and transaction confirmation come later. "+
		"Passwords work now: POST "+pre+"/register/password and POST "+pre+"/authenticate/password.")
}

// prefixOf is the surface's prefix in the route c matched.
func prefixOf(c *gin.Context) string {
	return strings.TrimSuffix(c.FullPath(), ginPath(c.GetString(routePathKey)))
}
