package loginid

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/sdk/servicetoken"
	"github.com/latchkey/latchkey/storage"
)

// These tests run the surface's routes on fakes of its two narrow
// interfaces: the order of its calls (the nonce last, in the transaction
// of the effect), its answers to failures below it, and its route table
// against the seed's. The server's tests run it for real.

// fakeCore records the calls that matter.
type fakeCore struct {
	snap      *config.Snapshot
	calls     *[]string
	used      map[string]bool
	useErr    error
	txErr     error
	principal *core.Principal
	authErr   error
	verify    func(login, password string) (*accounts.User, error)
}

func (f *fakeCore) UseOnce(_ context.Context, kind, issuer, id string, _ time.Time) error {
	*f.calls = append(*f.calls, "use-once")
	if f.useErr != nil {
		return f.useErr
	}
	k := kind + "/" + issuer + "/" + id
	if f.used[k] {
		return fmt.Errorf("fake: %w", storage.ErrAlreadyUsed)
	}
	f.used[k] = true
	return nil
}
func (f *fakeCore) Snapshot() *config.Snapshot { return f.snap }
func (f *fakeCore) Now() time.Time             { return time.Now() }
func (f *fakeCore) Client(id string) *core.Client {
	if cl := f.snap.Client(id); cl != nil {
		return &core.Client{Client: cl}
	}
	return nil
}
func (f *fakeCore) Prepare(_ context.Context, req core.IssueRequest) (core.Pending, error) {
	*f.calls = append(*f.calls, "sign")
	if req.UData == nil || *req.UData != req.Username {
		return nil, errors.New("fake: udata must be the username")
	}
	return fakePending{calls: f.calls}, nil
}
func (f *fakeCore) Atomically(ctx context.Context, fn func(context.Context) error) error {
	*f.calls = append(*f.calls, "begin")
	if f.txErr != nil {
		return f.txErr
	}
	if err := fn(ctx); err != nil {
		*f.calls = append(*f.calls, "rollback")
		return err
	}
	*f.calls = append(*f.calls, "commit")
	return nil
}
func (f *fakeCore) Authenticate(context.Context, string) (*core.Principal, error) {
	return f.principal, f.authErr
}
func (f *fakeCore) VerifyPassword(_ context.Context, _, login, password string) (*accounts.User, error) {
	*f.calls = append(*f.calls, "verify-password")
	return f.verify(login, password)
}

type fakePending struct{ calls *[]string }

func (p fakePending) Save(context.Context) (*core.Issued, error) {
	*p.calls = append(*p.calls, "save")
	return &core.Issued{AccessToken: "user-jwt"}, nil
}

// fakeUsers holds users in memory.
type fakeUsers struct {
	calls      *[]string
	byID       map[string]*accounts.User
	prepareErr error
	getErr     error
}

func (u *fakeUsers) Prepare(_ context.Context, realm *config.Realm, in accounts.NewUser) (*accounts.PreparedUser, error) {
	*u.calls = append(*u.calls, "hash")
	if u.prepareErr != nil {
		return nil, u.prepareErr
	}
	return validator.Prepare(context.Background(), realm, accounts.NewUser{Username: in.Username, Email: in.Email})
}
func (u *fakeUsers) Insert(_ context.Context, p *accounts.PreparedUser) (*accounts.User, error) {
	*u.calls = append(*u.calls, "insert")
	nu := &accounts.User{ID: p.ID(), Realm: "rl_a", Status: accounts.StatusActive}
	u.byID[nu.ID] = nu
	return nu, nil
}
func (u *fakeUsers) Get(_ context.Context, _, id string) (*accounts.User, error) {
	*u.calls = append(*u.calls, "get")
	if u.getErr != nil {
		return nil, u.getErr
	}
	if x, ok := u.byID[id]; ok {
		return x, nil
	}
	return nil, accounts.ErrNotFound
}
func (u *fakeUsers) GetByUsername(_ context.Context, _, name string) (*accounts.User, error) {
	*u.calls = append(*u.calls, "get")
	if u.getErr != nil {
		return nil, u.getErr
	}
	for _, x := range u.byID {
		if accounts.Normalize(x.Username) == accounts.Normalize(name) {
			return x, nil
		}
	}
	return nil, accounts.ErrNotFound
}
func (u *fakeUsers) Delete(_ context.Context, _, id string) error {
	*u.calls = append(*u.calls, "delete")
	delete(u.byID, id)
	return nil
}
func (u *fakeUsers) SetStatus(_ context.Context, _, id, status string) error {
	*u.calls = append(*u.calls, "set-status")
	u.byID[id].Status = status
	return nil
}

// validator prepares users without a password: validation and an id, no
// database.
var validator = accounts.New(nil, accounts.Options{})

func (u *fakeUsers) Credentials(context.Context, string, string) ([]*accounts.Credential, error) {
	*u.calls = append(*u.calls, "list-credentials")
	return nil, nil
}
func (u *fakeUsers) Credential(_ context.Context, _, uuid string) (*accounts.Credential, error) {
	*u.calls = append(*u.calls, "get-credential")
	return &accounts.Credential{UUID: uuid, UserID: "usr_alice", Type: accounts.CredentialPassword, Name: "Password", Status: accounts.CredentialActive}, nil
}
func (u *fakeUsers) EnsurePasswordCredential(context.Context, string, string) error {
	*u.calls = append(*u.calls, "ensure-credential")
	return nil
}
func (u *fakeUsers) RenameCredential(context.Context, string, string, string) (*accounts.Credential, error) {
	return nil, errors.New("fake: not used")
}
func (u *fakeUsers) RevokeCredential(context.Context, string, string) (*accounts.Credential, error) {
	*u.calls = append(*u.calls, "revoke-credential")
	return nil, accounts.ErrLastCredential
}
func (u *fakeUsers) PrepareCode(realmID, userID, codeType, purpose string, authorized bool) (*accounts.PreparedCode, error) {
	*u.calls = append(*u.calls, "draw-code")
	return validator.PrepareCode(realmID, userID, codeType, purpose, authorized)
}
func (u *fakeUsers) InsertCode(context.Context, *accounts.PreparedCode) (*accounts.Code, error) {
	*u.calls = append(*u.calls, "insert-code")
	return &accounts.Code{Code: "123456"}, nil
}
func (u *fakeUsers) UseCode(context.Context, *accounts.PresentedCode) error {
	*u.calls = append(*u.calls, "use-code")
	return accounts.ErrCodeRefused
}
func (u *fakeUsers) InvalidateCodes(context.Context, string, string, string) error {
	*u.calls = append(*u.calls, "invalidate-codes")
	return nil
}

type world struct {
	t     *testing.T
	key   *ecdsa.PrivateKey
	core  *fakeCore
	users *fakeUsers
	calls []string
	srv   *httptest.Server
}

func newWorld(t *testing.T) *world {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sk, _ := config.GenerateKey(config.AlgES256)
	skPEM, _ := config.EncodePrivateKeyPEM(sk)
	pub, _ := config.EncodePublicKeyPEM(&key.PublicKey)
	one := func(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", `\n`) }
	snap, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`
issuer: https://as.test
signing_keys: [{kid: k1, alg: ES256, pem: "%s"}]
realms: [{id: rl_a, name: A}]
clients: [{id: backend, realm: rl_a, auth_method: none, grant_types: [password], scopes: [x]}]
api_credentials:
  - {id: cred_a, realm: rl_a, public_keys: [{alg: ES256, pem: "%s"}], client: backend, scopes: [%s]}
`, one(skPEM), one(pub), strings.Join(config.LoginIDScopes, ", "))), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, key: key}
	w.core = &fakeCore{snap: snap, calls: &w.calls, used: map[string]bool{}}
	w.users = &fakeUsers{calls: &w.calls, byID: map[string]*accounts.User{
		"usr_alice": {ID: "usr_alice", Realm: "rl_a", Username: "alice", Status: accounts.StatusActive},
	}}
	w.core.verify = func(login, password string) (*accounts.User, error) {
		if login == "alice" && password == "right" {
			return w.users.byID["usr_alice"], nil
		}
		return nil, accounts.ErrInvalidCredentials
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(func(c *gin.Context) { c.Header("X-Request-Id", "req-1") })
	newHandler(w.core, w.users, nil).mount(e.Group("/loginid"))
	w.srv = httptest.NewServer(e)
	t.Cleanup(w.srv.Close)
	return w
}

func (w *world) token(scope string, o servicetoken.Options) string {
	tok, err := servicetoken.Sign("cred_a", w.key, []string{scope}, o)
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

// do sends a request and returns the status, the body and the calls it made.
func (w *world) do(method, path, token, body string) (int, map[string]any, http.Header, []string) {
	w.t.Helper()
	w.calls = nil
	req, _ := http.NewRequest(method, w.srv.URL+"/loginid"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header, w.calls
}

// The nonce is used up last: after every check of the request, after the
// password hash and the token's signature, inside the transaction that
// writes the effect; a refused request never uses it.
func TestNonceLastInTheEffectsTransaction(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name, method, path, scope, body string
		status                          int
		calls                           []string
	}{
		{"create", "POST", "/manage/users", "users.create", `{"username":"bob","password":"long enough pw"}`, 200,
			[]string{"hash", "begin", "use-once", "insert", "commit"}},
		{"register", "POST", "/register/password", "auth.register", `{"username":"carl","password":"long enough pw"}`, 200,
			[]string{"hash", "sign", "begin", "use-once", "insert", "ensure-credential", "get-credential", "save", "commit"}},
		{"login", "POST", "/authenticate/password", "auth.login", `{"username":"alice","password":"right"}`, 200,
			[]string{"verify-password", "sign", "begin", "use-once", "ensure-credential", "get-credential", "save", "commit"}},
		{"login, wrong password", "POST", "/authenticate/password", "auth.login", `{"username":"alice","password":"wrong"}`, 401,
			[]string{"verify-password"}},
		{"retrieve", "POST", "/manage/users/retrieve", "users.retrieve", `{"username":"alice"}`, 200,
			[]string{"get", "use-once"}},
		{"retrieve, unknown", "POST", "/manage/users/retrieve", "users.retrieve", `{"username":"zed"}`, 404,
			[]string{"get"}},
		{"list credentials", "POST", "/credentials/list", "credentials.list", `{"user_id":"usr_alice"}`, 200,
			[]string{"get", "begin", "use-once", "list-credentials", "commit"}},
		{"revoke the last credential", "POST", "/credentials/revoke", "credentials.revoke", `{"credential":{"uuid":"u1"}}`, 400,
			[]string{"get-credential", "get", "begin", "use-once", "revoke-credential", "rollback"}},
		{"generate a code", "POST", "/codes/short/generate", "codes.generate", `{"username":"alice","purpose":"add_credential"}`, 200,
			[]string{"get", "draw-code", "begin", "use-once", "insert-code", "commit"}},
		{"a wrong code counts, and uses the nonce", "POST", "/codes/short/authorize", "codes.authorize",
			`{"username":"alice","purpose":"temporary_authentication","code":"000000"}`, 400,
			[]string{"get", "sign", "begin", "use-once", "use-code", "commit"}},
		{"a code not of its type's form is refused at once", "POST", "/codes/short/authorize", "codes.authorize",
			`{"username":"alice","purpose":"temporary_authentication","code":"12"}`, 400, []string{"get"}},
		{"deactivate", "PUT", "/manage/users/usr_alice/deactivate", "users.deactivate", ``, 200,
			[]string{"get", "begin", "use-once", "set-status", "commit"}},
		{"deactivate again", "PUT", "/manage/users/usr_alice/deactivate", "users.deactivate", ``, 400,
			[]string{"get"}},
		{"delete", "DELETE", "/manage/users/usr_alice", "users.delete", ``, 204,
			[]string{"get", "begin", "use-once", "delete", "commit"}},
		{"passkeys", "POST", "/register/fido2/init", "auth.register", `{}`, 501, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _, calls := w.do(tc.method, tc.path, w.token(tc.scope, servicetoken.Options{}), tc.body)
			if status != tc.status || !slices.Equal(calls, tc.calls) {
				t.Fatalf("got %d %v, calls %v; want %d, calls %v", status, body, calls, tc.status, tc.calls)
			}
		})
	}
}

// Failures below the surface: 503 with Retry-After when retrying may help,
// and 5xx bodies that say nothing but "Internal server error" and the
// request id.
func TestFailuresBelow(t *testing.T) {
	w := newWorld(t)
	retrieve := func() (int, map[string]any, http.Header, []string) {
		return w.do("POST", "/manage/users/retrieve", w.token("users.retrieve", servicetoken.Options{}), `{"username":"alice"}`)
	}
	check := func(name string, wantStatus int) {
		t.Helper()
		status, body, hdr, _ := retrieve()
		if status != wantStatus || body["message"] != "Internal server error" || body["request_id"] != "req-1" || len(body) != 2 {
			t.Errorf("%s: %d %v", name, status, body)
		}
		if (wantStatus == 503) != (hdr.Get("Retry-After") != "") {
			t.Errorf("%s: Retry-After %q", name, hdr.Get("Retry-After"))
		}
	}
	w.users.getErr = errors.New("connection refused")
	check("user read fails", 503)
	w.users.getErr = nil
	w.core.useErr = errors.New("connection refused")
	check("nonce insert fails", 503)
	w.core.useErr = nil

	w.users.prepareErr = accounts.ErrBusy
	status, _, hdr, _ := w.do("POST", "/manage/users", w.token("users.create", servicetoken.Options{}), `{"username":"x","password":"long enough pw"}`)
	if status != 503 || hdr.Get("Retry-After") == "" {
		t.Errorf("hashing bound full: %d", status)
	}
	w.users.prepareErr = nil

	w.core.authErr = fmt.Errorf("lookup: %w", core.ErrUnavailable)
	status, _, hdr, _ = w.do("POST", "/manage/users/retrieve", core.AccessTokenPrefix+"abc", `{"username":"alice"}`)
	if status != 503 || hdr.Get("Retry-After") == "" {
		t.Errorf("access token lookup unavailable: %d", status)
	}
	w.core.authErr = core.ErrUnauthenticated
	if status, body, _, _ := w.do("POST", "/manage/users/retrieve", core.AccessTokenPrefix+"abc", `{"username":"alice"}`); status != 401 || body["code"] != "unauthorized" {
		t.Errorf("inactive access token: %d %v", status, body)
	}
}

// A user's access token never authorizes, whatever its scopes.
func TestUserAccessTokenNeverAuthorizes(t *testing.T) {
	w := newWorld(t)
	w.core.principal = &core.Principal{Kind: core.KindUser, Realm: "rl_a", Scopes: config.LoginIDScopes,
		Client: w.core.Client("backend"), User: w.users.byID["usr_alice"]}
	for _, rt := range routes {
		path := strings.ReplaceAll(rt.Path, "{user_id}", "usr_alice")
		if status, body, _, _ := w.do(rt.Method, path, core.AccessTokenPrefix+"user", `{}`); status != 401 {
			t.Errorf("%s %s with a user token: %d %v", rt.Method, rt.Path, status, body)
		}
	}
	w.core.principal = &core.Principal{Kind: core.KindClient, Realm: "rl_a", Scopes: []string{"users.retrieve"}, Client: w.core.Client("backend")}
	if status, body, _, _ := w.do("POST", "/manage/users/retrieve", core.AccessTokenPrefix+"client", `{"username":"alice"}`); status != 200 {
		t.Errorf("client token with the scope: %d %v", status, body)
	}
}

// The table of routes is the seed's: every row is either served with the
// seed's scope and "Required", or listed as not yet served; nothing else
// is mounted but GET /certs.
func TestRoutesAreTheSeedsTable(t *testing.T) {
	f, err := os.Open("testdata/seed-scopes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	notYet := map[string]bool{}
	served := map[string]route{}
	for _, rt := range routes {
		served[rt.Method+" "+rt.Path] = rt
	}
	// LoginID's SDKs list credentials with POST as well.
	if rt := served["POST /credentials/list"]; rt.Scope != "credentials.list" || !rt.Required {
		t.Errorf("POST /credentials/list: %+v, want GET /credentials' guard", rt)
	}
	delete(served, "POST /credentials/list")
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 3 || (strings.TrimSpace(cells[1]) != "Yes" && strings.TrimSpace(cells[1]) != "Optional") {
			continue
		}
		ep, required, scope := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1]) == "Yes", strings.TrimSpace(cells[2])
		seen++
		rt, ok := served[ep]
		switch {
		case notYet[ep] && ok:
			t.Errorf("%s is served now: take it off the not-yet list", ep)
		case notYet[ep]:
		case !ok:
			t.Errorf("the seed's %s is not served", ep)
		case rt.Scope != scope || rt.Required != required:
			t.Errorf("%s: scope %s required %v, the seed says %s %v", ep, rt.Scope, rt.Required, scope, required)
		}
		delete(served, ep)
	}
	if seen != 20 {
		t.Fatalf("read %d rows of the seed's table, want 20", seen)
	}
	for ep := range served {
		t.Errorf("%s is served but not in the seed's table", ep)
	}

	// What Mount registers: the table and GET /certs, nothing else.
	e := gin.New()
	w := newWorld(t)
	newHandler(w.core, w.users, nil).mount(e.Group("/p"))
	var got []string
	for _, r := range e.Routes() {
		got = append(got, r.Method+" "+r.Path)
	}
	want := []string{"GET /p/certs"}
	for _, rt := range routes {
		want = append(want, rt.Method+" /p"+ginPath(rt.Path))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("mounted %v\nwant %v", got, want)
	}
}
