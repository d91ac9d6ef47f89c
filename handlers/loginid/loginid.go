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
// behind its guard, and GET /certs. The passkey ceremonies of the
// snapshot's relying party are made here, once, when a realm has passkeys.
func (Surface) Mount(r gin.IRouter, env surface.Env) {
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	newHandler(env.Core, env.Accounts, passkeysOf(env.Accounts, env.Core.Snapshot(), log), log).mount(r)
}

// passkeysOf makes snap's passkey ceremonies, or answers nil when no realm
// has passkeys (accounts.NewPasskeys refuses the IP relying-party id that a
// development config without passkeys has) or when they cannot be made:
// then the realms' fido2 and /tx routes answer 500, and the log says why.
func passkeysOf(svc *accounts.Service, snap *config.Snapshot, log *slog.Logger) passkeyOps {
	if !snap.PasskeysEnabled() {
		return nil
	}
	pk, err := accounts.NewPasskeys(svc, snap)
	if err != nil {
		log.Error("LoginID surface: the passkey relying party cannot be made; the fido2 and /tx routes answer 500", "error", err)
		return nil
	}
	return pk
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
// that is sent is checked in full). A route without a scope takes no
// token: a passkey ceremony's complete, whose challenge is the proof.
type route struct {
	Method, Path string
	Scope        string
	Required     bool
	serve        func(h *handler, c *gin.Context, cl *caller)
}

// routes are the routes served, with their guards: LoginID's endpoint and
// scope table; POST /credentials/list, the same as GET /credentials; and
// the completes of the passkey ceremonies, which take no token.
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

	{"POST", "/register/fido2/init", "auth.register", false, (*handler).registerFido2Init},
	{"POST", "/register/fido2/complete", "", false, (*handler).registerFido2Complete},
	{"POST", "/authenticate/fido2/init", "auth.login", false, (*handler).authenticateFido2Init},
	{"POST", "/authenticate/fido2/complete", "", false, (*handler).authenticateFido2Complete},
	{"POST", "/credentials/fido2/init/code", "credentials.add", false, (*handler).addFido2ByCode},
	{"POST", "/credentials/fido2/init/force", inbound.ForceAddScope, true, (*handler).addFido2Force},
	{"POST", "/credentials/fido2/complete", "", false, (*handler).addFido2Complete},
	// /tx/init is Optional: its tx_id form takes no token, its tx_payload
	// form requires one with tx.create (initTx says so).
	{"POST", "/tx", "tx.create", true, (*handler).createTx},
	{"POST", "/tx/init", "tx.create", false, (*handler).initTx},
	{"POST", "/tx/complete", "", false, (*handler).completeTx},
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
	// SignJWT signs a transaction's confirmation.
	SignJWT(alg string, claims map[string]any) (string, error)
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
	RedeemCode(ctx context.Context, p *accounts.PresentedCode) error
	InvalidateCodes(ctx context.Context, realmID, userID, purpose string) error
}

// handler serves the LoginID routes of one snapshot.
type handler struct {
	core  coreOps
	users users
	// pk runs the passkey ceremonies; nil when no realm has passkeys.
	pk  passkeyOps
	log *slog.Logger
	// pems maps each signing key's kid to its public key as PEM, made
	// once per snapshot.
	pems map[string][]byte
}

func newHandler(c coreOps, u users, pk passkeyOps, log *slog.Logger) *handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{core: c, users: u, pk: pk, log: log, pems: map[string][]byte{}}
	for _, k := range c.Snapshot().SigningKeys {
		if pem, err := config.EncodePublicKeyPEM(k.Key.Public()); err == nil {
			h.pems[k.KID] = pem
		}
	}
	return h
}

// certs serves GET /certs?kid=: the PEM public key of a configured signing
// key, which LoginID's SDKs fetch to verify the user tokens and the
// transactions' confirmations.
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
