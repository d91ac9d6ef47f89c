package workapi

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/storage"
)

// These tests run the Work API's routes on fakes of the two narrow
// interfaces it depends on: no database, no provider, no server.

const testGUID = "123456-1234-5678-12345679"

// fakeCore records the order of the calls that matter.
type fakeCore struct {
	snap      *config.Snapshot
	calls     []string
	used      map[string]bool
	saveErr   error
	principal *core.Principal
	authErr   error
}

func (f *fakeCore) UseOnce(_ context.Context, kind, issuer, id string, _ time.Time) error {
	f.calls = append(f.calls, "use-once")
	k := kind + "/" + issuer + "/" + id
	if f.used[k] {
		return fmt.Errorf("fake: %w", storage.ErrAlreadyUsed)
	}
	f.used[k] = true
	return nil
}
func (f *fakeCore) Snapshot() *config.Snapshot { return f.snap }
func (f *fakeCore) TokenURL() string           { return f.snap.Issuer + core.TokenPath }
func (f *fakeCore) Now() time.Time             { return time.Now() }
func (f *fakeCore) Client(id string) *core.Client {
	if cl := f.snap.Client(id); cl != nil {
		return &core.Client{Client: cl}
	}
	return nil
}
func (f *fakeCore) Prepare(_ context.Context, req core.IssueRequest) (core.Pending, error) {
	f.calls = append(f.calls, "prepare")
	return fakePending{f: f, exp: req.ExpiresAt}, nil
}
func (f *fakeCore) Issue(ctx context.Context, req core.IssueRequest) (*core.Issued, error) {
	p, _ := f.Prepare(ctx, req)
	return p.Save(ctx)
}
func (f *fakeCore) Atomically(ctx context.Context, fn func(context.Context) error) error {
	f.calls = append(f.calls, "begin")
	err := fn(ctx)
	if err != nil {
		f.calls = append(f.calls, "rollback")
		return err
	}
	f.calls = append(f.calls, "commit")
	return nil
}
func (f *fakeCore) Authenticate(context.Context, string) (*core.Principal, error) {
	return f.principal, f.authErr
}

type fakePending struct {
	f   *fakeCore
	exp time.Time
}

func (p fakePending) Save(context.Context) (*core.Issued, error) {
	p.f.calls = append(p.f.calls, "save")
	if p.f.saveErr != nil {
		return nil, p.f.saveErr
	}
	return &core.Issued{AccessToken: "tok", ExpiresAt: p.exp}, nil
}

type fakeUsers struct {
	insertErr error
	calls     *[]string
}

func (u fakeUsers) Prepare(context.Context, *config.Realm, accounts.NewUser) (*accounts.PreparedUser, error) {
	*u.calls = append(*u.calls, "prepare-user")
	return &accounts.PreparedUser{}, nil
}
func (u fakeUsers) Insert(context.Context, *accounts.PreparedUser) (*accounts.User, error) {
	*u.calls = append(*u.calls, "insert")
	if u.insertErr != nil {
		return nil, u.insertErr
	}
	return &accounts.User{ID: "usr_fake", ArbitraryID: "alice", EnvironmentGUID: testGUID, CreatedAt: time.Now()}, nil
}
func (u fakeUsers) GetByArbitraryID(context.Context, string, string, string) (*accounts.User, error) {
	return nil, accounts.ErrNotFound
}

// rig is one handler on fakes, its router, and the environment's key.
type rig struct {
	core   *fakeCore
	router *gin.Engine
	envKey crypto.Signer
}

func newRig(t *testing.T, insertErr error) *rig {
	t.Helper()
	sk, _ := config.GenerateKey(config.AlgES256)
	ek, _ := config.GenerateKey(config.AlgES256)
	skPEM, _ := config.EncodePrivateKeyPEM(sk)
	ekPEM, _ := config.EncodePublicKeyPEM(ek.Public())
	one := func(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", `\n`) }
	yaml := fmt.Sprintf(`
issuer: http://issuer.test
signing_keys: [{kid: k1, alg: ES256, pem: "%s"}]
realms: [{id: rl_w, name: W}]
clients:
  - {id: provider, realm: rl_w, auth_method: none, grant_types: [password], scopes: [profile]}
environments:
  - {guid: %s, realm: rl_w, public_keys: [{alg: ES256, pem: "%s"}], max_apt_ttl: 60s, user_token_ttl: 1h, client: provider}
`, one(skPEM), testGUID, one(ekPEM))
	snap, err := config.Parse("w.yaml", []byte(yaml), t.TempDir(), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCore{snap: snap, used: map[string]bool{}}
	h := &handler{core: fc, users: fakeUsers{insertErr: insertErr, calls: &fc.calls}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/users", h.create)
	r.GET("/users/me", h.me)
	return &rig{core: fc, router: r, envKey: ek}
}

func (r *rig) apt(t *testing.T, jti string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: r.envKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b, _ := json.Marshal(map[string]any{"environment_guid": testGUID, "arbitrary_id": "alice", "jti": jti,
		"iat": now.Unix(), "exp": now.Add(30 * time.Second).Unix()})
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func (r *rig) call(method, path, token string) (*httptest.ResponseRecorder, map[string]any) {
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	r.router.ServeHTTP(w, req)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w, m
}

// The user is prepared and the token signed before the transaction; the
// jti, the user and the token are written inside it, in that order.
func TestCreateSignsBeforeTheTransaction(t *testing.T) {
	r := newRig(t, nil)
	w, m := r.call(http.MethodPost, "/users", r.apt(t, "j1"))
	if w.Code != http.StatusCreated || m["token"] != "tok" {
		t.Fatalf("create: %d %v", w.Code, m)
	}
	want := "prepare-user prepare begin use-once insert save commit"
	if got := strings.Join(r.core.calls, " "); got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}

// A taken arbitrary_id rolls the transaction back before any token is
// stored; a replayed APT inserts nothing.
func TestCreateRefusals(t *testing.T) {
	r := newRig(t, accounts.ErrArbitraryIDTaken)
	w, m := r.call(http.MethodPost, "/users", r.apt(t, "j1"))
	if w.Code != http.StatusConflict || m["error"] != "user_exists" {
		t.Fatalf("taken arbitrary_id: %d %v", w.Code, m)
	}
	if got := strings.Join(r.core.calls, " "); strings.Contains(got, "save") || !strings.HasSuffix(got, "rollback") {
		t.Errorf("taken arbitrary_id: calls %q, want a rollback and no save", got)
	}

	r = newRig(t, nil)
	tok := r.apt(t, "j2")
	r.call(http.MethodPost, "/users", tok)
	r.core.calls = nil
	w, m = r.call(http.MethodPost, "/users", tok)
	if w.Code != http.StatusUnauthorized || m["error"] != "invalid_apt" {
		t.Fatalf("replayed APT: %d %v", w.Code, m)
	}
	if got := strings.Join(r.core.calls, " "); strings.Contains(got, "insert") {
		t.Errorf("replayed APT: calls %q, want no insert", got)
	}
}

// A database that does not answer is 503 with Retry-After, on create and on
// /users/me; an inactive token is exactly {"error":"invalid_token"}.
func TestUnavailableAndUnauthenticated(t *testing.T) {
	r := newRig(t, nil)
	r.core.saveErr = fmt.Errorf("fake: %w", core.ErrUnavailable)
	w, m := r.call(http.MethodPost, "/users", r.apt(t, "j3"))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("create during an outage: %d %v (Retry-After %q)", w.Code, m, w.Header().Get("Retry-After"))
	}

	r.core.authErr = fmt.Errorf("fake: %w", core.ErrUnavailable)
	w, m = r.call(http.MethodGet, "/users/me", "some-token")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("/users/me during an outage: %d %v", w.Code, m)
	}
	r.core.authErr = core.ErrUnauthenticated
	w, _ = r.call(http.MethodGet, "/users/me", "some-token")
	if w.Code != http.StatusUnauthorized || strings.TrimSpace(w.Body.String()) != `{"error":"invalid_token"}` {
		t.Errorf("/users/me with an inactive token: %d %s", w.Code, w.Body.String())
	}
	r.core.authErr = nil
	r.core.principal = &core.Principal{Kind: core.KindClient, Client: r.core.Client("provider"), Realm: "rl_w"}
	if w, m := r.call(http.MethodGet, "/users/me", "client-token"); w.Code != http.StatusUnauthorized {
		t.Errorf("/users/me with a client token: %d %v", w.Code, m)
	}
}
