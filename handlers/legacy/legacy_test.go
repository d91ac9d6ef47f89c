package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

// These tests run the legacy routes on fakes of the two narrow interfaces
// the surface depends on: no database, no provider, no server.

const (
	testGrant = "0b7c3f4e-5d6a-4b1c-9e2f-123456789abc"
	testToken = "eyJ.access.token"
)

// fakeCore records the calls that matter, in order.
type fakeCore struct {
	snap    *config.Snapshot
	clients map[string]*core.Client
	calls   []string

	principal  *core.Principal
	authErr    error
	prepErr    error // of Prepare
	saveErr    error
	refreshErr error // of Refresh, before rotating
	completeEr error // of Refresh, when rotating
	revokeErr  error
	refreshed  string // the grant Refresh finds
}

func (f *fakeCore) call(s string)                 { f.calls = append(f.calls, s) }
func (f *fakeCore) Snapshot() *config.Snapshot    { return f.snap }
func (f *fakeCore) Client(id string) *core.Client { return f.clients[id] }
func (f *fakeCore) Prepare(_ context.Context, req core.IssueRequest) (core.Pending, error) {
	f.call("sign")
	if f.prepErr != nil {
		return nil, f.prepErr
	}
	return fakePending{f: f, req: req}, nil
}
func (f *fakeCore) Issue(ctx context.Context, req core.IssueRequest) (*core.Issued, error) {
	p, err := f.Prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	return p.Save(ctx)
}
func (f *fakeCore) Atomically(ctx context.Context, fn func(context.Context) error) error {
	f.call("begin")
	if err := fn(ctx); err != nil {
		f.call("rollback")
		return err
	}
	f.call("commit")
	return nil
}
func (f *fakeCore) Refresh(_ context.Context, req core.RefreshRequest) (*core.Issued, error) {
	f.call("prepare-refresh:" + req.RefreshToken + ":" + req.Client.ID)
	if f.refreshErr != nil {
		return nil, f.refreshErr
	}
	if req.GrantID != f.refreshed {
		return nil, core.ErrGrantMismatch
	}
	f.call("rotate:" + f.refreshed)
	if f.completeEr != nil {
		return nil, f.completeEr
	}
	return &core.Issued{AccessToken: "tok2", RefreshToken: "rt2", GrantID: f.refreshed,
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))}, nil
}
func (f *fakeCore) Authenticate(_ context.Context, token string) (*core.Principal, error) {
	f.call("authenticate:" + token)
	return f.principal, f.authErr
}
func (f *fakeCore) RevokeGrant(_ context.Context, grantID string) error {
	f.call("revoke:" + grantID)
	return f.revokeErr
}

type fakePending struct {
	f   *fakeCore
	req core.IssueRequest
}

func (p fakePending) Save(context.Context) (*core.Issued, error) {
	p.f.call("save")
	if p.f.saveErr != nil {
		return nil, p.f.saveErr
	}
	return &core.Issued{AccessToken: "tok", RefreshToken: "rt", GrantID: testGrant,
		ExpiresAt: time.Date(2030, 1, 1, 12, 0, 0, 0, time.FixedZone("Y", -7200))}, nil
}

type fakeUsers struct {
	f         *fakeCore
	prepErr   error
	insertErr error
	verifyErr error
	updateErr error
	changes   accounts.Changes
	keep      string
}

func (u *fakeUsers) Prepare(_ context.Context, _ *config.Realm, in accounts.NewUser) (*accounts.PreparedUser, error) {
	u.f.call("hash:" + in.Email)
	if u.prepErr != nil {
		return nil, u.prepErr
	}
	return &accounts.PreparedUser{}, nil
}
func (u *fakeUsers) Insert(context.Context, *accounts.PreparedUser) (*accounts.User, error) {
	u.f.call("insert")
	if u.insertErr != nil {
		return nil, u.insertErr
	}
	return &accounts.User{ID: "usr_new", Email: "ada@example.com", Role: accounts.DefaultRole}, nil
}
func (u *fakeUsers) VerifyPasswordByEmail(_ context.Context, realm *config.Realm, email, _ string) (*accounts.User, error) {
	u.f.call("verify:" + realm.ID + ":" + email)
	if u.verifyErr != nil {
		return nil, u.verifyErr
	}
	return &accounts.User{ID: "usr_ada", Email: email, Role: "editor"}, nil
}
func (u *fakeUsers) Update(_ context.Context, _ *config.Realm, userID string, ch accounts.Changes, keep string) (*accounts.User, error) {
	u.f.call("update:" + userID)
	u.changes, u.keep = ch, keep
	if u.updateErr != nil {
		return nil, u.updateErr
	}
	out := &accounts.User{ID: userID, Email: "ada@example.com", FirstName: "Ada", Role: "user"}
	if ch.Email != nil {
		out.Email = *ch.Email
	}
	return out, nil
}

type rig struct {
	core   *fakeCore
	users  *fakeUsers
	router *gin.Engine
}

const testConfig = `
issuer: http://issuer.test
signing_keys: [{kid: k1, alg: ES256, pem: "%s"}]
realms: [{id: rl_l, name: L}]
clients:
  - {id: legacy-app, realm: rl_l, auth_method: none, grant_types: [password, refresh_token], scopes: [profile]}
  - {id: second-app, realm: rl_l, auth_method: none, grant_types: [password, refresh_token], scopes: [profile]}
  - {id: oauth-app, realm: rl_l, auth_method: none, grant_types: [password, refresh_token], scopes: [profile]}
compat:
  legacy: {clients: [legacy-app, second-app]}
`

func newRig(t *testing.T) *rig {
	t.Helper()
	sk, _ := config.GenerateKey(config.AlgES256)
	skPEM, _ := config.EncodePrivateKeyPEM(sk)
	one := strings.ReplaceAll(strings.TrimSpace(string(skPEM)), "\n", `\n`)
	snap, err := config.Parse("l.yaml", []byte(fmt.Sprintf(testConfig, one)), t.TempDir(), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCore{snap: snap, clients: map[string]*core.Client{}, refreshed: testGrant}
	for _, cl := range snap.Clients {
		fc.clients[cl.ID] = &core.Client{Client: cl}
	}
	fc.principal = &core.Principal{Kind: core.KindUser, Client: fc.clients["legacy-app"], Realm: "rl_l",
		User: &accounts.User{ID: "usr_ada", Realm: "rl_l", Status: accounts.StatusActive}, GrantID: testGrant}
	fu := &fakeUsers{f: fc}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	newHandler(fc, fu, slog.New(slog.NewTextHandler(io.Discard, nil))).register(r)
	return &rig{core: fc, users: fu, router: r}
}

// rawBody is a body with its own Content-Type.
type rawBody struct{ contentType, body string }

// call sends body as JSON (a map or string), as a form (url.Values) or as
// a rawBody.
func (r *rig) call(method, path, auth string, body any) (*httptest.ResponseRecorder, map[string]any) {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ct = strings.NewReader(b.body), b.contentType
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	default:
		j, _ := json.Marshal(b)
		rd, ct = strings.NewReader(string(j)), "application/json"
	}
	req := httptest.NewRequest(method, path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	r.router.ServeHTTP(w, req)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w, m
}

func (r *rig) calls() string { return strings.Join(r.core.calls, " ") }

var goodBasic = basicHeader(testGrant + ":" + testToken)

func TestLoginAnswersTheWikisShape(t *testing.T) {
	r := newRig(t)
	w, m := r.call("POST", "/users/token", "", map[string]any{"client": "legacy-app", "email": "ada@example.com", "password": "pw"})
	if w.Code != 200 {
		t.Fatalf("login: %d %v", w.Code, m)
	}
	want := map[string]any{"role": "editor", "key": testGrant, "token": "tok", "refresh": "rt", "expires": "2030-01-01T14:00:00Z"}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("answer %v, want %v", m, want)
	}
	if got := w.Body.String(); !strings.HasPrefix(got, `{"role":"editor","key":`) {
		t.Errorf("field order: %s", got)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("a token answer without Cache-Control: no-store")
	}
	if got, want := r.calls(), "verify:rl_l:ada@example.com sign save"; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

// The user is validated and hashed, and the tokens signed, before the
// transaction; the insert and the tokens commit together.
func TestSignupSignsAndHashesBeforeTheTransaction(t *testing.T) {
	r := newRig(t)
	w, m := r.call("POST", "/users", "", map[string]any{"client": "legacy-app", "email": "ada@example.com", "password": "pw", "first_name": "Ada"})
	if w.Code != 201 || m["role"] != "user" || m["key"] != testGrant || m["token"] != "tok" || m["refresh"] != "rt" {
		t.Fatalf("signup: %d %v", w.Code, m)
	}
	if got, want := r.calls(), "hash:ada@example.com sign begin insert save commit"; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}

	// A taken e-mail rolls back before any token is stored.
	r = newRig(t)
	r.users.insertErr = accounts.ErrEmailTaken
	w, m = r.call("POST", "/users", "", map[string]any{"client": "legacy-app", "email": "ada@example.com", "password": "pw"})
	if w.Code != 409 || m["error"] != "email_taken" {
		t.Fatalf("taken e-mail: %d %v", w.Code, m)
	}
	if got := r.calls(); strings.Contains(got, "save") || !strings.HasSuffix(got, "rollback") {
		t.Errorf("calls %q: a token was stored, or no rollback", got)
	}
}

// The attack: a stolen refresh token presented with a wrong key gets no
// tokens and changes nothing — the presented token is not rotated, so the
// owner's next refresh works.
func TestRefreshWithAnotherKeyChangesNothing(t *testing.T) {
	r := newRig(t)
	w, m := r.call("POST", "/users/token/refresh", "", map[string]any{"client": "legacy-app", "key": "99999999-2222-4333-8444-555555555555", "refresh": "rt"})
	if w.Code != 401 || m["error"] != "invalid_grant" || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("wrong key: %d %v", w.Code, m)
	}
	if got := r.calls(); strings.Contains(got, "rotate") {
		t.Errorf("calls %q: the token was rotated for a wrong key", got)
	}

	r = newRig(t)
	w, m = r.call("POST", "/users/token/refresh", "", map[string]any{"client": "legacy-app", "key": testGrant, "refresh": "rt"})
	want := map[string]any{"key": testGrant, "token": "tok2", "refresh": "rt2", "expires": "2030-01-02T02:04:05Z"}
	if w.Code != 200 || fmt.Sprint(m) != fmt.Sprint(want) {
		t.Fatalf("refresh: %d %v, want %v", w.Code, m, want)
	}
	if got, want := r.calls(), "prepare-refresh:rt:legacy-app rotate:"+testGrant; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

// The attacks on Basic: a valid token with another grant's key, a token of
// a client that is not a legacy client, a client token — all one 401, and
// nothing is done.
func TestBasicRefusesTokensThatAreNotTheKeys(t *testing.T) {
	for _, c := range []struct {
		name   string
		auth   string
		mutate func(*fakeCore)
	}{
		{"another grant's key", basicHeader("99999999-2222-4333-8444-555555555555:" + testToken), nil},
		{"a key that differs in case", basicHeader(strings.ToUpper(testGrant) + ":" + testToken), nil},
		{"the key as a prefix", basicHeader(testGrant[:35] + ":" + testToken), nil},
		{"a token of a client that is not a legacy client", goodBasic, func(f *fakeCore) { f.principal.Client = f.clients["oauth-app"] }},
		{"a client_credentials token", goodBasic, func(f *fakeCore) { f.principal.Kind, f.principal.User = core.KindClient, nil }},
		{"an inactive token", goodBasic, func(f *fakeCore) { f.principal, f.authErr = nil, core.ErrUnauthenticated }},
	} {
		for _, route := range []struct{ method, path string }{{"PATCH", "/users"}, {"DELETE", "/users/token"}} {
			r := newRig(t)
			if c.mutate != nil {
				c.mutate(r.core)
			}
			w, m := r.call(route.method, route.path, c.auth, map[string]any{"first_name": "Eve"})
			if w.Code != 401 || m["error"] != "invalid_token" || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s on %s %s: %d %v", c.name, route.method, route.path, w.Code, m)
			}
			if got := r.calls(); strings.Contains(got, "update") || strings.Contains(got, "revoke") {
				t.Errorf("%s on %s %s: calls %q", c.name, route.method, route.path, got)
			}
		}
	}
}

// Each error answer of every route: status, code, the {"error","message"}
// shape, the Basic challenge on 401, Retry-After on 503.
func TestErrorAnswers(t *testing.T) {
	signup := map[string]any{"client": "legacy-app", "email": "ada@example.com", "password": "pw"}
	login := map[string]any{"client": "legacy-app", "email": "ada@example.com", "password": "pw"}
	refresh := map[string]any{"client": "legacy-app", "key": testGrant, "refresh": "rt"}
	weak := &accounts.ValidationError{Problems: []accounts.Problem{
		{Field: "email", Code: "invalid", Message: `email "x" does not look like an e-mail address (name@example.com)`},
		{Field: "password", Code: "too_short", Message: "password must be at least 10 characters"}}}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		name         string
		method, path string
		auth         string
		body         any
		mutate       func(*rig)
		status       int
		code         string
		message      string // a part of the message, when it matters
	}{
		// Bodies.
		{"malformed JSON", "POST", "/users/token", "", `{"client":`, nil, 400, "invalid_request", "JSON"},
		{"wrong JSON type", "POST", "/users/token", "", `{"client":"legacy-app","email":5,"password":"pw"}`, nil, 400, "invalid_request", ""},
		{"a JSON array", "POST", "/users", "", `[1,2]`, nil, 400, "invalid_request", ""},
		{"an XML body", "POST", "/users/token", "", rawBody{"application/xml", "<login/>"}, nil, 400, "invalid_request", "application/json"},
		// Clients.
		{"no client", "POST", "/users/token", "", with(login, "client", nil), nil, 400, "invalid_request", "client"},
		{"unknown client", "POST", "/users/token", "", with(login, "client", "ghost"), nil, 400, "invalid_client", `"ghost"`},
		{"a client that is not a legacy client", "POST", "/users/token", "", with(login, "client", "oauth-app"), nil, 400, "invalid_client", ""},
		{"unknown client at sign-up", "POST", "/users", "", with(signup, "client", "ghost"), nil, 400, "invalid_client", ""},
		{"unknown client at refresh", "POST", "/users/token/refresh", "", with(refresh, "client", "ghost"), nil, 400, "invalid_client", ""},
		{"unknown client at logout", "DELETE", "/users/token", goodBasic, map[string]any{"client": "ghost"}, nil, 400, "invalid_client", ""},
		{"another legacy client at logout", "DELETE", "/users/token", goodBasic, map[string]any{"client": "second-app"}, nil, 401, "invalid_token", "another client"},
		{"another legacy client at PATCH", "PATCH", "/users", goodBasic, map[string]any{"client": "second-app"}, nil, 401, "invalid_token", "another client"},
		// Sign-up.
		{"sign-up without e-mail and password", "POST", "/users", "", map[string]any{"client": "legacy-app"}, nil, 400, "invalid_request", "email and password fields are required"},
		{"sign-up with a role", "POST", "/users", "", with(signup, "role", "admin"), nil, 400, "invalid_request", "role"},
		{"sign-up with invalid fields", "POST", "/users", "", signup, func(r *rig) { r.users.prepErr = weak }, 400, "invalid_user", "Email \"x\" does not look like an e-mail address (name@example.com); password must be at least 10 characters."},
		{"sign-up with a taken e-mail", "POST", "/users", "", signup, func(r *rig) { r.users.insertErr = accounts.ErrEmailTaken }, 409, "email_taken", ""},
		{"sign-up while the hasher is full", "POST", "/users", "", signup, func(r *rig) { r.users.prepErr = accounts.ErrBusy }, 503, "temporarily_unavailable", ""},
		{"sign-up while the database is down", "POST", "/users", "", signup, func(r *rig) { r.core.saveErr = fmt.Errorf("x: %w", core.ErrUnavailable) }, 503, "temporarily_unavailable", ""},
		// Login.
		{"login without password", "POST", "/users/token", "", with(login, "password", ""), nil, 400, "invalid_request", "password field is required"},
		{"login with wrong credentials", "POST", "/users/token", "", login, func(r *rig) { r.users.verifyErr = accounts.ErrInvalidCredentials }, 401, "invalid_credentials", ""},
		{"login while the hasher is full", "POST", "/users/token", "", login, func(r *rig) { r.users.verifyErr = accounts.ErrBusy }, 503, "temporarily_unavailable", ""},
		{"login while the database is down", "POST", "/users/token", "", login, func(r *rig) { r.users.verifyErr = errors.New("accounts: lockout: connection refused") }, 503, "temporarily_unavailable", ""},
		{"login signing inside a transaction (a bug)", "POST", "/users/token", "", login, func(r *rig) { r.core.prepErr = core.ErrInTransaction }, 500, "server_error", "request id"},
		// Refresh.
		{"refresh without key", "POST", "/users/token/refresh", "", with(refresh, "key", nil), nil, 400, "invalid_request", "key field is required"},
		{"refresh without either", "POST", "/users/token/refresh", "", map[string]any{"client": "legacy-app"}, nil, 400, "invalid_request", "key and refresh fields"},
		{"refresh of an unknown token", "POST", "/users/token/refresh", "", refresh, func(r *rig) {
			r.core.refreshErr = fosite.ErrInvalidGrant.WithHint("The refresh token is invalid, expired, revoked or was already used.")
		}, 401, "invalid_grant", "invalid, expired"},
		{"refresh of a used token", "POST", "/users/token/refresh", "", refresh, func(r *rig) {
			r.core.completeEr = fosite.ErrInvalidGrant.WithHint("The refresh token was already used; every token of its grant is now revoked.")
		}, 401, "invalid_grant", "already used"},
		{"refresh while the database is down", "POST", "/users/token/refresh", "", refresh, func(r *rig) {
			r.core.refreshErr = fosite.ErrTemporarilyUnavailable.WithWrap(core.ErrUnavailable)
		}, 503, "temporarily_unavailable", ""},
		{"refresh by a client without the grant", "POST", "/users/token/refresh", "", refresh, func(r *rig) { r.core.refreshErr = fosite.ErrUnauthorizedClient }, 400, "invalid_client", ""},
		// Basic.
		{"PATCH without Basic", "PATCH", "/users", "", map[string]any{"first_name": "A"}, nil, 401, "invalid_token", "Basic"},
		{"PATCH with Bearer", "PATCH", "/users", "Bearer " + testToken, map[string]any{"first_name": "A"}, nil, 401, "invalid_token", "Basic"},
		{"PATCH with bad base64", "PATCH", "/users", "Basic %%%", nil, nil, 401, "invalid_token", "base64"},
		{"PATCH without colon", "PATCH", "/users", basicHeader("nocolon"), nil, nil, 401, "invalid_token", "base64"},
		{"DELETE with an empty token", "DELETE", "/users/token", basicHeader(testGrant + ":"), nil, nil, 401, "invalid_token", ""},
		{"Basic while the database is down", "PATCH", "/users", goodBasic, nil, func(r *rig) { r.core.principal, r.core.authErr = nil, fmt.Errorf("x: %w", core.ErrUnavailable) }, 503, "temporarily_unavailable", ""},
		// PATCH.
		{"PATCH with a role", "PATCH", "/users", goodBasic, map[string]any{"role": "admin"}, nil, 400, "invalid_request", "role"},
		{"PATCH removing the e-mail", "PATCH", "/users", goodBasic, map[string]any{"email": " "}, nil, 400, "invalid_request", "e-mail"},
		{"PATCH with invalid fields", "PATCH", "/users", goodBasic, map[string]any{"email": "x"}, func(r *rig) { r.users.updateErr = weak }, 400, "invalid_user", "at least 10"},
		{"PATCH to a taken e-mail", "PATCH", "/users", goodBasic, map[string]any{"email": "bob@example.com"}, func(r *rig) { r.users.updateErr = accounts.ErrEmailTaken }, 409, "email_taken", ""},
		{"PATCH of a deleted user", "PATCH", "/users", goodBasic, map[string]any{"first_name": "A"}, func(r *rig) { r.users.updateErr = accounts.ErrNotFound }, 401, "invalid_token", ""},
		{"PATCH while the hasher is full", "PATCH", "/users", goodBasic, map[string]any{"password": "a new password"}, func(r *rig) { r.users.updateErr = accounts.ErrBusy }, 503, "temporarily_unavailable", ""},
		// Logout.
		{"logout while the database is down", "DELETE", "/users/token", goodBasic, nil, func(r *rig) { r.core.revokeErr = fmt.Errorf("x: %w", core.ErrUnavailable) }, 503, "temporarily_unavailable", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			if c.mutate != nil {
				c.mutate(r)
			}
			w, m := r.call(c.method, c.path, c.auth, c.body)
			if w.Code != c.status || m["error"] != c.code {
				t.Fatalf("%d %s, want %d %s", w.Code, w.Body.String(), c.status, c.code)
			}
			msg, _ := m["message"].(string)
			if len(m) != 2 || msg == "" || !strings.Contains(msg, c.message) {
				t.Errorf("body %s: want exactly error and a message containing %q", w.Body.String(), c.message)
			}
			if got := w.Header().Get("WWW-Authenticate"); (c.status == 401) != strings.HasPrefix(got, "Basic ") {
				t.Errorf("status %d with WWW-Authenticate %q", c.status, got)
			}
			if got := w.Header().Get("Retry-After"); (c.status == 503) != (got != "") {
				t.Errorf("status %d with Retry-After %q", c.status, got)
			}
		})
	}
}

// PATCH passes only the fields given (an absent one stays as it is) and
// keeps the login's own grant when the password changes; JSON and forms
// alike.
func TestUpdatePassesOnlyTheGivenFields(t *testing.T) {
	for _, body := range []any{
		map[string]any{"email": "new@example.com", "last_name": "", "password": "a new password"},
		url.Values{"email": {"new@example.com"}, "last_name": {""}, "password": {"a new password"}},
	} {
		r := newRig(t)
		w, m := r.call("PATCH", "/users", goodBasic, body)
		if w.Code != 200 || m["email"] != "new@example.com" || m["id"] != "usr_ada" || len(m) != 5 {
			t.Fatalf("%T: %d %v", body, w.Code, m)
		}
		ch := r.users.changes
		if ch.FirstName != nil || ch.LastName == nil || *ch.LastName != "" || ch.Email == nil || ch.Password == nil || *ch.Password != "a new password" || ch.Role != nil {
			t.Errorf("%T: changes %+v", body, ch)
		}
		if r.users.keep != testGrant {
			t.Errorf("%T: kept grant %q, want the login's %q", body, r.users.keep, testGrant)
		}
		if got, want := r.calls(), "authenticate:"+testToken+" update:usr_ada"; got != want {
			t.Errorf("%T: calls %q, want %q", body, got, want)
		}
	}
}

func TestLogoutRevokesTheGrant(t *testing.T) {
	r := newRig(t)
	w, _ := r.call("DELETE", "/users/token", goodBasic, map[string]any{"client": "legacy-app"})
	if w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("logout: %d %q", w.Code, w.Body.String())
	}
	if got, want := r.calls(), "authenticate:"+testToken+" revoke:"+testGrant; got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
	// Without a body too (the client field is optional here).
	r = newRig(t)
	if w, _ := r.call("DELETE", "/users/token", goodBasic, nil); w.Code != 204 {
		t.Fatalf("logout without a body: %d", w.Code)
	}
}

// JSON sent without a Content-Type, or as text/plain, is read as JSON; a
// form as a form.
func TestBodiesOfEveryKind(t *testing.T) {
	for name, b := range map[string]rawBody{
		"json":                      {"application/json", `{"client":"legacy-app","email":"ada@example.com","password":"pw"}`},
		"json with charset":         {"application/json; charset=utf-8", `{"client":"legacy-app","email":"ada@example.com","password":"pw"}`},
		"json without content type": {"", "\n  {\"client\":\"legacy-app\",\"email\":\"ada@example.com\",\"password\":\"pw\"}"},
		"json as text/plain":        {"text/plain;charset=UTF-8", `{"client":"legacy-app","email":"ada@example.com","password":"pw"}`},
		"form":                      {"application/x-www-form-urlencoded", "client=legacy-app&email=ada%40example.com&password=pw"},
		"form without content type": {"", "client=legacy-app&email=ada%40example.com&password=pw"},
	} {
		r := newRig(t)
		w, _ := r.call("POST", "/users/token", "", b)
		if w.Code != 200 || r.calls() != "verify:rl_l:ada@example.com sign save" {
			t.Errorf("%s: %d %s, calls %q", name, w.Code, w.Body.String(), r.calls())
		}
	}
}

func TestSurfaceContract(t *testing.T) {
	r := newRig(t)
	var s Surface
	prefix, on := s.Prefix(r.core.snap)
	if s.Name() != "legacy" || prefix != "" || !on {
		t.Errorf("name %q, prefix %q, enabled %v", s.Name(), prefix, on)
	}
}
