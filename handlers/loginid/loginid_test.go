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
func (f *fakeCore) SignJWT(alg string, _ map[string]any) (string, error) {
	*f.calls = append(*f.calls, "sign-jwt")
	if alg != config.AlgES256 {
		return "", errors.New("fake: a confirmation is ES256")
	}
	return "tx-jwt", nil
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
	codeRight  bool // UseCode accepts the code; else accounts.ErrCodeRefused
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
	if u.codeRight {
		return nil
	}
	return accounts.ErrCodeRefused
}
func (u *fakeUsers) RedeemCode(context.Context, *accounts.PresentedCode) error {
	*u.calls = append(*u.calls, "redeem-code")
	if u.codeRight {
		return nil
	}
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

func newWorld(t *testing.T) *world { return newWorldOf(t, false) }

// newWorldOf is a world whose realm has passkeys when passkeys is true
// (with fake ceremonies).
func newWorldOf(t *testing.T, passkeys bool) *world {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sk, _ := config.GenerateKey(config.AlgES256)
	skPEM, _ := config.EncodePrivateKeyPEM(sk)
	pub, _ := config.EncodePublicKeyPEM(&key.PublicKey)
	one := func(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", `\n`) }
	snap, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`
issuer: https://as.test
signing_keys: [{kid: k1, alg: ES256, pem: "%s"}]
realms: [{id: rl_a, name: A, passkeys: %v}]
clients: [{id: backend, realm: rl_a, auth_method: none, grant_types: [password], scopes: [x]}]
api_credentials:
  - {id: cred_a, realm: rl_a, public_keys: [{alg: ES256, pem: "%s"}], client: backend, scopes: [%s]}
`, one(skPEM), passkeys, one(pub), strings.Join(config.LoginIDScopes, ", "))), t.TempDir(), nil)
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
	var pk passkeyOps
	if passkeys {
		pk = &fakePasskeys{calls: &w.calls}
	}
	newHandler(w.core, w.users, pk, nil).mount(e.Group("/loginid"))
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
		{"passkeys, in a realm without them", "POST", "/register/fido2/init", "auth.register", `{"username":"dora"}`, 403, nil},
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
		want := 401
		if rt.Scope == "" {
			want = 400 // a complete takes no token at all
		}
		if status, body, _, _ := w.do(rt.Method, path, core.AccessTokenPrefix+"user", `{}`); status != want {
			t.Errorf("%s %s with a user token: %d %v, want %d", rt.Method, rt.Path, status, body, want)
		}
	}
	w.core.principal = &core.Principal{Kind: core.KindClient, Realm: "rl_a", Scopes: []string{"users.retrieve"}, Client: w.core.Client("backend")}
	if status, body, _, _ := w.do("POST", "/manage/users/retrieve", core.AccessTokenPrefix+"client", `{"username":"alice"}`); status != 200 {
		t.Errorf("client token with the scope: %d %v", status, body)
	}
}

// The table of routes is the seed's: every row is served with the seed's
// scope and "Required"; besides, only
// POST /credentials/list, the ceremonies' completes (which take no token)
// and GET /certs are mounted.
func TestRoutesAreTheSeedsTable(t *testing.T) {
	f, err := os.Open("testdata/seed-scopes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	served := map[string]route{}
	for _, rt := range routes {
		served[rt.Method+" "+rt.Path] = rt
	}
	// LoginID's SDKs list credentials with POST as well.
	if rt := served["POST /credentials/list"]; rt.Scope != "credentials.list" || !rt.Required {
		t.Errorf("POST /credentials/list: %+v, want GET /credentials' guard", rt)
	}
	delete(served, "POST /credentials/list")
	var tokenless []string
	for ep, rt := range served {
		if rt.Scope == "" {
			tokenless = append(tokenless, ep)
			delete(served, ep)
		}
	}
	slices.Sort(tokenless)
	if want := []string{"POST /authenticate/fido2/complete", "POST /credentials/fido2/complete", "POST /register/fido2/complete", "POST /tx/complete"}; !slices.Equal(tokenless, want) {
		t.Errorf("the routes that take no token: %v, want the completes %v", tokenless, want)
	}
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
	newHandler(w.core, w.users, nil, nil).mount(e.Group("/p"))
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

// fakePasskeys records the ceremonies' calls.
type fakePasskeys struct{ calls *[]string }

func (p *fakePasskeys) rec(call string) { *p.calls = append(*p.calls, call) }

func (p *fakePasskeys) BeginRegistration(_ context.Context, _ *config.Realm, in accounts.RegistrationStart) (*accounts.RegistrationOptions, error) {
	p.rec("begin-registration")
	o := &accounts.RegistrationOptions{CredentialUUID: "00000000-0000-4000-8000-000000000001"}
	o.Options.Challenge = []byte("challenge")
	return o, nil
}
func (p *fakePasskeys) VerifyRegistration(context.Context, *config.Realm, accounts.RegistrationFinish) (*accounts.VerifiedRegistration, error) {
	p.rec("verify-registration")
	return &accounts.VerifiedRegistration{UserID: "usr_new"}, nil
}
func (p *fakePasskeys) InsertRegistration(context.Context, *accounts.VerifiedRegistration) (*accounts.User, *accounts.Credential, error) {
	p.rec("insert-registration")
	return &accounts.User{ID: "usr_new", Realm: "rl_a", Username: "nina"}, &accounts.Credential{UUID: "u", Type: accounts.CredentialFIDO2, Name: "Passkey"}, nil
}
func (p *fakePasskeys) BeginLogin(context.Context, *config.Realm, string) (*accounts.AssertionOptions, error) {
	p.rec("begin-login")
	return &accounts.AssertionOptions{}, nil
}
func (p *fakePasskeys) Consume(context.Context, *accounts.PasskeyLogin) error {
	p.rec("consume")
	return nil
}
func (p *fakePasskeys) VerifyLogin(context.Context, *config.Realm, accounts.AssertionFinish) (*accounts.PasskeyLogin, error) {
	p.rec("verify-login")
	return nil, &accounts.PasskeyError{Reason: "The passkey's response does not verify.", Cause: errors.New("webauthn: Error validating the assertion signature")}
}
func (p *fakePasskeys) CreateTransaction(_ context.Context, u *accounts.User, _, _, _ string) (*accounts.Transaction, error) {
	p.rec("create-tx")
	return &accounts.Transaction{ID: "tx1", UserID: u.ID}, nil
}
func (p *fakePasskeys) Transaction(context.Context, string, string, string) (*accounts.Transaction, error) {
	p.rec("get-tx")
	return nil, accounts.ErrTransactionNotFound
}
func (p *fakePasskeys) BeginTransaction(_ context.Context, _ *config.Realm, _ *accounts.User, t *accounts.Transaction) (*accounts.TxOptions, error) {
	p.rec("begin-tx")
	return &accounts.TxOptions{TxID: t.ID}, nil
}
func (p *fakePasskeys) ConsumeTransaction(context.Context, *accounts.ConfirmedTransaction) error {
	p.rec("consume-tx")
	return nil
}
func (p *fakePasskeys) VerifyTransaction(context.Context, *config.Realm, string, accounts.AssertionFinish) (*accounts.ConfirmedTransaction, error) {
	p.rec("verify-tx")
	return &accounts.ConfirmedTransaction{Transaction: &accounts.Transaction{ID: "tx1", Payload: "p", Nonce: "n"},
		Login: &accounts.PasskeyLogin{User: &accounts.User{ID: "usr_alice", Username: "alice"}, Credential: &accounts.Credential{UUID: "c1"}, ServerNonce: "s"}}, nil
}

// The passkey routes keep the order of the others: every check of the
// request first, the ceremony's verification and the token's signature
// outside the transaction, the nonce used up in the transaction of the
// effect — and a one-time code presented only once everything else is
// valid, and used up in the transaction that stores the ceremony.
func TestPasskeyRoutesOrder(t *testing.T) {
	w := newWorldOf(t, true)
	att := `"attestation_payload":{"credential_uuid":"u","credential_id":"AQ","challenge":"Y2g","client_data":"e30","attestation_data":"oA"}`
	as := `"assertion_payload":{"challenge":"Y2g","credential_id":"AQ","client_data":"e30","authenticator_data":"AA","signature":"AA"}`
	code := `"authentication_code":{"code":"123456","type":"short"}`
	tests := []struct {
		name, path, scope, body string
		status                  int
		calls                   []string
	}{
		{"register init", "/register/fido2/init", "auth.register", `{"username":"nina"}`, 200,
			[]string{"begin", "use-once", "begin-registration", "commit"}},
		{"register complete: verified, signed, then one transaction", "/register/fido2/complete", "", `{"client_id":"cred_a","username":"nina",` + att + `}`, 200,
			[]string{"verify-registration", "sign", "begin", "insert-registration", "save", "commit"}},
		{"register complete: a bad name never reaches the ceremony", "/register/fido2/complete", "",
			`{"client_id":"cred_a","username":"nina","options":{"credential_name":"  "},` + att + `}`, 400, nil},
		{"register complete: a value not base64url never reaches the ceremony", "/register/fido2/complete", "",
			`{"client_id":"cred_a","username":"nina","attestation_payload":{"credential_uuid":"u","credential_id":"A+/","challenge":"Y2g","client_data":"e30","attestation_data":"oA"}}`, 400, nil},
		{"login complete refused: 401, nothing signed or stored", "/authenticate/fido2/complete", "", `{"client_id":"cred_a","username":"alice",` + as + `}`, 401,
			[]string{"verify-login"}},
		{"add by code: the code is used in the ceremony's transaction, first", "/credentials/fido2/init/code", "credentials.add", `{"username":"alice",` + code + `}`, 400,
			[]string{"get", "begin", "use-once", "redeem-code", "commit"}},
		{"add by code: a bad display name leaves the code alone", "/credentials/fido2/init/code", "credentials.add",
			`{"username":"alice","options":{"display_name":"\u0007"},` + code + `}`, 400, nil},
		{"add by code: a code not of its type's form is refused at once", "/credentials/fido2/init/code", "credentials.add",
			`{"username":"alice","authentication_code":{"code":"12","type":"short"}}`, 400, []string{"get"}},
		{"tx", "/tx", "tx.create", `{"username":"alice","tx_type":"text","tx_payload":"Pay"}`, 200,
			[]string{"get", "begin", "use-once", "create-tx", "commit"}},
		{"tx init by id, unknown: the nonce is kept", "/tx/init", "tx.create", `{"username":"alice","tx_id":"tx9"}`, 404,
			[]string{"get", "begin", "use-once", "get-tx", "rollback"}},
		{"tx init inline: created and started in one transaction", "/tx/init", "tx.create", `{"username":"alice","tx_type":"text","tx_payload":"Pay"}`, 200,
			[]string{"get", "begin", "use-once", "create-tx", "begin-tx", "commit"}},
		{"tx complete: verified, the JWT signed, then one transaction confirms", "/tx/complete", "", `{"client_id":"cred_a","tx_id":"tx1","username":"alice","challenge":"Y2g","key_handle":"AQ","client_data":"e30","auth_data":"AA","sign_data":"AA"}`, 200,
			[]string{"verify-tx", "sign-jwt", "begin", "consume-tx", "commit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := ""
			if tc.scope != "" {
				tok = w.token(tc.scope, servicetoken.Options{})
			}
			status, body, _, calls := w.do("POST", tc.path, tok, tc.body)
			if status != tc.status || !slices.Equal(calls, tc.calls) {
				t.Fatalf("got %d %v, calls %v; want %d, calls %v", status, body, calls, tc.status, tc.calls)
			}
			if msg, _ := body["message"].(string); strings.Contains(msg, "webauthn") || strings.Contains(msg, "Error") {
				t.Errorf("the library's text reached the answer: %q", msg)
			}
		})
	}
	// An authorized code: redeemed and the ceremony stored in one
	// transaction.
	w.users.codeRight = true
	status, body, _, calls := w.do("POST", "/credentials/fido2/init/code", w.token("credentials.add", servicetoken.Options{}), `{"username":"alice",`+code+`}`)
	if want := []string{"get", "begin", "use-once", "redeem-code", "begin-registration", "commit"}; status != 200 || !slices.Equal(calls, want) {
		t.Fatalf("add by an authorized code: %d %v, calls %v; want %v", status, body, calls, want)
	}
}
