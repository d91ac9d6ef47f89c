package authrocket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/secrethash"
)

// These tests run the routes on a fake of the accounts operations (to
// inject failures and see what was called) with the real validation of
// accounts; the end-to-end tests with a database are in server.

// The API keys of the test config: rw, read-only and write-only keys of
// rl_a, a key of rl_b, and a key of rl_mail (e-mail usernames).
var (
	keyRW    = "rw-" + strings.Repeat("a", 40)
	keyRead  = "ro-" + strings.Repeat("b", 40)
	keyWrite = "wo-" + strings.Repeat("c", 40)
	keyB     = "rb-" + strings.Repeat("d", 40)
	keyMail  = "rm-" + strings.Repeat("e", 40)
)

// seedToken is the seed's example signup token.
var seedToken = &accounts.SignupToken{ID: "utk_0v6O8c6RsC9A5e2Fa9n5WX", Realm: "rl_a", Username: "sally", Email: "sally@example.com",
	CredentialType: "password", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}

// seedJSON is the seed's "Get a signup token" response, as printed there.
const seedJSON = `{ "id" : "utk_0v6O8c6RsC9A5e2Fa9n5WX",
  "first_name" : null,
  "last_name" : null,
  "email" : "sally@example.com",
  "username" : "sally",
  "object" : "user_token",
  "credential_type" : "password"
}`

type fakeCore struct{ snap *config.Snapshot }

func (f fakeCore) Snapshot() *config.Snapshot { return f.snap }

// fakeSignups validates with the real accounts rules, then answers with
// err if set, else the seed's token or a user.
type fakeSignups struct {
	svc   *accounts.Service // validation only: no database
	err   error
	calls []string
	got   accounts.NewSignupToken
}

func (f *fakeSignups) ValidateSignupToken(realm *config.Realm, in accounts.NewSignupToken) error {
	return f.svc.ValidateSignupToken(realm, in)
}
func (f *fakeSignups) CreateSignupToken(_ context.Context, realm *config.Realm, in accounts.NewSignupToken) (*accounts.SignupToken, error) {
	f.calls = append(f.calls, "create")
	f.got = in
	if err := f.svc.ValidateSignupToken(realm, in); err != nil {
		return nil, err
	}
	if f.err != nil {
		return nil, f.err
	}
	return seedToken, nil
}
func (f *fakeSignups) GetSignupToken(_ context.Context, realmID, id string) (*accounts.SignupToken, error) {
	f.calls = append(f.calls, "get "+realmID+" "+id)
	if f.err != nil {
		return nil, f.err
	}
	return seedToken, nil
}
func (f *fakeSignups) DiscardSignupToken(_ context.Context, realmID, id string) error {
	f.calls = append(f.calls, "discard "+realmID+" "+id)
	return f.err
}
func (f *fakeSignups) ConvertSignupToken(_ context.Context, realm *config.Realm, id string) (*accounts.User, error) {
	f.calls = append(f.calls, "convert "+realm.ID+" "+id)
	if f.err != nil {
		return nil, f.err
	}
	return &accounts.User{ID: "usr_x", Realm: realm.ID, Username: "sally", Email: "sally@example.com", Status: accounts.StatusActive,
		CreatedAt: time.Date(2026, 11, 21, 23, 3, 48, 123456789, time.UTC)}, nil
}

type rig struct {
	snap    *config.Snapshot
	signups *fakeSignups
	router  *gin.Engine
}

var validationService = accounts.New(nil, accounts.Options{})

func newRig(t *testing.T) *rig {
	t.Helper()
	sk, _ := config.GenerateKey(config.AlgES256)
	skPEM, _ := config.EncodePrivateKeyPEM(sk)
	hash := func(k string) string {
		h, err := secrethash.Hash(k)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	yaml := fmt.Sprintf(`
issuer: http://issuer.test
signing_keys: [{kid: k1, alg: ES256, pem: "%s"}]
realms:
  - {id: rl_a, name: A, password_min_length: 10}
  - {id: rl_b, name: B}
  - {id: rl_mail, name: Mail, username_is_email: true, password_min_length: 12}
api_keys:
  - {id: k_rw, realm: rl_a, key_hash: "%s", permissions: [read, write]}
  - {id: k_ro, realm: rl_a, key_hash: "%s", permissions: [read]}
  - {id: k_wo, realm: rl_a, key_hash: "%s", permissions: [write]}
  - {id: k_b, realm: rl_b, key_hash: "%s", permissions: [read, write]}
  - {id: k_mail, realm: rl_mail, key_hash: "%s", permissions: [read, write]}
`, strings.ReplaceAll(strings.TrimSpace(string(skPEM)), "\n", `\n`), hash(keyRW), hash(keyRead), hash(keyWrite), hash(keyB), hash(keyMail))
	snap, err := config.Parse("ar.yaml", []byte(yaml), t.TempDir(), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeSignups{svc: validationService}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(func(c *gin.Context) { c.Header("X-Request-Id", "req-1") })
	env := &handler{core: fakeCore{snap}, signups: fs, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.POST("/v1/user_tokens", env.createToken)
	r.GET("/v1/user_tokens/:id", env.getToken)
	r.DELETE("/v1/user_tokens/:id", env.discardToken)
	r.POST("/v1/users", env.convert)
	return &rig{snap: snap, signups: fs, router: r}
}

// call sends a request with the API key (none when ""), the extra headers
// and a JSON body (none when ""), and returns the answer.
func (r *rig) call(method, path, key, body string, headers ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(headerAPIKey, key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	r.router.ServeHTTP(w, req)
	return w
}

// errorsOf returns the messages of an {"errors": [...]} body, failing when
// the body has any other shape.
func errorsOf(t *testing.T, w *httptest.ResponseRecorder) []string {
	t.Helper()
	var body map[string][]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 1 || len(body["errors"]) == 0 {
		t.Fatalf("body %s is not {\"errors\": [\"…\"]}", w.Body.String())
	}
	return body["errors"]
}

const sallyBody = `{"user_token":{"realm_id":"rl_a","username":"sally","email":"sally@example.com","password":"zq8Lw2mR4t-blue","password_confirmation":"zq8Lw2mR4t-blue"}}`

func TestAuthorization(t *testing.T) {
	routes := []struct {
		method, path, body string
		perm               string
	}{
		{http.MethodPost, "/v1/user_tokens", sallyBody, permWrite},
		{http.MethodGet, "/v1/user_tokens/utk_0v6O8c6RsC9A5e2Fa9n5WX", "", permRead},
		{http.MethodDelete, "/v1/user_tokens/utk_0v6O8c6RsC9A5e2Fa9n5WX", "", permWrite},
		{http.MethodPost, "/v1/users", `{"user":{"user_token":"utk_0v6O8c6RsC9A5e2Fa9n5WX"}}`, permWrite},
	}
	cases := []struct {
		name    string
		key     string
		headers []string
		status  func(perm string) int
		message string
	}{
		{name: "no key", status: func(string) int { return 401 }, message: "Send an API key in the X-Authrocket-Api-Key header."},
		{name: "wrong key", key: "rw-" + strings.Repeat("a", 39) + "b", status: func(string) int { return 401 }, message: "The API key is not valid."},
		{name: "a key's hash as the key", key: "sha256:" + strings.Repeat("0", 64), status: func(string) int { return 401 }, message: "The API key is not valid."},
		{name: "key of another realm than X-Authrocket-Realm", key: keyB, headers: []string{headerRealm, "rl_a"},
			status: func(string) int { return 403 }, message: "The API key is not valid for the realm named in X-Authrocket-Realm."},
		{name: "X-Authrocket-Realm of another case", key: keyRW, headers: []string{headerRealm, "RL_A"},
			status: func(string) int { return 403 }, message: "The API key is not valid for the realm named in X-Authrocket-Realm."},
		{name: "read-only key", key: keyRead, status: func(p string) int {
			if p == permWrite {
				return 403
			}
			return 0
		}, message: "The API key lacks the write permission, which this request needs."},
		{name: "write-only key", key: keyWrite, status: func(p string) int {
			if p == permRead {
				return 403
			}
			return 0
		}, message: "The API key lacks the read permission, which this request needs."},
		{name: "read-write key, its realm named", key: keyRW, headers: []string{headerRealm, "rl_a"}, status: func(string) int { return 0 }},
	}
	for _, rt := range routes {
		for _, tc := range cases {
			t.Run(rt.method+" "+rt.path+"/"+tc.name, func(t *testing.T) {
				r := newRig(t)
				w := r.call(rt.method, rt.path, tc.key, rt.body, tc.headers...)
				want := tc.status(rt.perm)
				if want == 0 {
					if w.Code >= 400 {
						t.Fatalf("%d %s, want success", w.Code, w.Body.String())
					}
					return
				}
				if w.Code != want {
					t.Fatalf("%d %s, want %d", w.Code, w.Body.String(), want)
				}
				if got := errorsOf(t, w); !slices.Equal(got, []string{tc.message}) {
					t.Errorf("errors %q, want %q", got, tc.message)
				}
				if len(r.signups.calls) != 0 {
					t.Errorf("refused request reached accounts: %v", r.signups.calls)
				}
			})
		}
	}
	// The key's realm is the request's: rl_b's key acts in rl_b.
	r := newRig(t)
	r.call(http.MethodGet, "/v1/user_tokens/utk_x", keyB, "")
	if !slices.Equal(r.signups.calls, []string{"get rl_b utk_x"}) {
		t.Errorf("calls %v, want a get in rl_b", r.signups.calls)
	}
}

// TestGolden: the JSON of get and create is the seed's example, field for
// field and in its order.
func TestGolden(t *testing.T) {
	var want any
	if err := json.Unmarshal([]byte(seedJSON), &want); err != nil {
		t.Fatal(err)
	}
	compact := func(s string) string {
		var b strings.Builder
		dec := json.NewDecoder(strings.NewReader(s))
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%v|", tok)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"get", http.MethodGet, "/v1/user_tokens/utk_0v6O8c6RsC9A5e2Fa9n5WX", "", 200},
		{"create", http.MethodPost, "/v1/user_tokens", sallyBody, 201},
	} {
		r := newRig(t)
		w := r.call(tc.method, tc.path, keyRW, tc.body)
		if w.Code != tc.status {
			t.Fatalf("%s: %d %s", tc.name, w.Code, w.Body.String())
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
		var got any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if gs, ws := fmt.Sprint(got), fmt.Sprint(want); gs != ws {
			t.Errorf("%s: %s\nwant %s", tc.name, gs, ws)
		}
		// The same keys in the same order, with the same values.
		if g, w := compact(w.Body.String()), compact(seedJSON); g != w {
			t.Errorf("%s: tokens %s\nwant   %s", tc.name, g, w)
		}
		if b := w.Body.String(); strings.Contains(b, `"password":`) || strings.Contains(b, "password_confirmation") ||
			strings.Contains(b, "zq8Lw2mR4t") || strings.Contains(b, "argon2") {
			t.Errorf("%s: the answer shows the password: %s", tc.name, w.Body.String())
		}
	}
}

// TestMessages: AuthRocket's wording for each problem, combinations, and a
// realm with e-mail usernames; every problem at once, in field order.
func TestMessages(t *testing.T) {
	r := newRig(t)
	a, mail := r.snap.Realm("rl_a"), r.snap.Realm("rl_mail")
	pw := "zq8Lw2mR4t-blue"
	strp := func(s string) *string { return &s }
	long := strings.Repeat("x", 256)
	for _, tc := range []struct {
		name  string
		realm *config.Realm
		in    accounts.NewSignupToken
		want  []string
	}{
		{"username blank", a, accounts.NewSignupToken{Email: "sally@example.com", Password: pw}, []string{"Username can't be blank"}},
		{"email blank", a, accounts.NewSignupToken{Username: "sally", Password: pw}, []string{"Email can't be blank"}},
		{"password blank", a, accounts.NewSignupToken{Username: "sally", Email: "sally@example.com"}, []string{"Password can't be blank"}},
		{"confirmation differs", a, accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: pw, PasswordConfirmation: strp("other")},
			[]string{"Password confirmation doesn't match Password"}},
		{"all blank", a, accounts.NewSignupToken{}, []string{"Username can't be blank", "Email can't be blank", "Password can't be blank"}},
		{"the seed's password", a, accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: "secret", PasswordConfirmation: strp("secret")},
			[]string{"Password is too short (minimum is 10 characters)"}},
		{"common password", a, accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", Password: "password123"},
			[]string{"Password is too common or too easy to guess"}},
		{"bad e-mail, long names", a, accounts.NewSignupToken{Username: "sally", Email: "sally.example.com", Password: pw, FirstName: long, LastName: "a\x00"},
			[]string{"Email is invalid", "First name is too long (maximum is 255 characters)", "Last name is invalid"}},
		{"long username and password", a, accounts.NewSignupToken{Username: long, Email: "s@example.com", Password: strings.Repeat("Zq8-", 257)},
			[]string{"Username is too long (maximum is 255 characters)", "Password is too long (maximum is 1024 characters)"}},
		{"blank password and a confirmation", a, accounts.NewSignupToken{Username: "sally", Email: "sally@example.com", PasswordConfirmation: strp("x")},
			[]string{"Password can't be blank", "Password confirmation doesn't match Password"}},
		{"email realm: e-mail alone is fine", mail, accounts.NewSignupToken{Email: "sally@example.com", Password: pw}, nil},
		{"email realm: all blank", mail, accounts.NewSignupToken{}, []string{"Username can't be blank", "Password can't be blank"}},
		{"email realm: username not an e-mail", mail, accounts.NewSignupToken{Username: "sally", Password: pw}, []string{"Username must be an email address"}},
		{"email realm: two addresses", mail, accounts.NewSignupToken{Username: "sally@example.com", Email: "sal@example.com", Password: pw},
			[]string{"Email doesn't match Username"}},
		{"email realm: its own minimum", mail, accounts.NewSignupToken{Email: "sally@example.com", Password: "zq8Lw2mR4t"},
			[]string{"Password is too short (minimum is 12 characters)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := messages(tc.realm, validationService.ValidateSignupToken(tc.realm, tc.in))
			if tc.want == nil {
				if ok {
					t.Fatalf("messages %q, want valid", got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("messages %q\nwant     %q", got, tc.want)
			}
		})
	}
	// Taken names, reported among the others.
	taken := &accounts.ValidationError{Problems: []accounts.Problem{
		{Field: accounts.FieldUsername, Code: accounts.CodeTaken, Message: "username is already taken"},
		{Field: accounts.FieldEmail, Code: accounts.CodeTaken, Message: "email is already taken"},
		{Field: accounts.FieldPassword, Code: accounts.CodeBlank, Message: "password can't be blank"},
		{Field: "nickname", Code: "odd", Message: "nickname is odd"},
	}}
	got, _ := messages(a, taken)
	if want := []string{"Username has already been taken", "Email has already been taken", "Password can't be blank", "Nickname is odd"}; !slices.Equal(got, want) {
		t.Errorf("taken: %q, want %q", got, want)
	}
	// Over HTTP: 422 with all of them.
	w := r.call(http.MethodPost, "/v1/user_tokens", keyRW, `{"user_token":{"realm_id":"rl_a"}}`)
	if got := errorsOf(t, w); w.Code != 422 || !slices.Equal(got, []string{"Username can't be blank", "Email can't be blank", "Password can't be blank"}) {
		t.Errorf("create with nothing: %d %q", w.Code, got)
	}
}

func TestBadRequests(t *testing.T) {
	for _, tc := range []struct {
		name, path, body, contentType string
		status                        int
		message                       string
	}{
		{"not JSON", "/v1/user_tokens", `{"user_token":`, "application/json", 400, "The request body is not a JSON object of the expected fields and types."},
		{"a wrong type", "/v1/user_tokens", `{"user_token":{"username":5}}`, "application/json", 400, "The request body is not a JSON object of the expected fields and types."},
		{"an array", "/v1/user_tokens", `[1]`, "application/json", 400, "The request body is not a JSON object of the expected fields and types."},
		{"not UTF-8", "/v1/user_tokens", "{\"user_token\":{\"username\":\"\xff\"}}", "application/json", 400, "The request body is not valid UTF-8."},
		{"a form", "/v1/user_tokens", `user_token[username]=sally`, "application/x-www-form-urlencoded", 415, "Send the body as JSON, with Content-Type: application/json."},
		{"no user_token", "/v1/user_tokens", `{"username":"sally"}`, "application/json", 400, `The body must be a JSON object {"user_token": {…}} with the signup token's fields.`},
		{"empty body", "/v1/user_tokens", ``, "", 400, `The body must be a JSON object {"user_token": {…}} with the signup token's fields.`},
		{"another realm_id", "/v1/user_tokens", `{"user_token":{"realm_id":"rl_b","username":"sally"}}`, "application/json", 403, "The API key is not valid for the realm named in realm_id."},
		{"another credential_type", "/v1/user_tokens", `{"user_token":{"username":"sally","credential_type":"oauth2"}}`, "application/json", 422, ""},
		{"conversion: no user", "/v1/users", `{"user_token":"utk_0v6O8c6RsC9A5e2Fa9n5WX"}`, "application/json", 400, `The body must be a JSON object {"user": {"user_token": "utk_…"}}.`},
		{"conversion: no token", "/v1/users", `{"user":{"username":"sally"}}`, "application/json", 422, "User token can't be blank (users are created here from signup tokens only)"},
		{"conversion: another realm_id", "/v1/users", `{"user":{"user_token":"utk_0v6O8c6RsC9A5e2Fa9n5WX","realm_id":"rl_b"}}`, "application/json", 403, "The API key is not valid for the realm named in realm_id."},
		{"conversion: token not a string", "/v1/users", `{"user":{"user_token":["utk_"]}}`, "application/json", 400, "The request body is not a JSON object of the expected fields and types."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Header.Set(headerAPIKey, keyRW)
			w := httptest.NewRecorder()
			r.router.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("%d %s, want %d", w.Code, w.Body.String(), tc.status)
			}
			got := errorsOf(t, w)
			if tc.message != "" && !slices.Equal(got, []string{tc.message}) {
				t.Errorf("errors %q, want %q", got, tc.message)
			}
			if slices.ContainsFunc(r.signups.calls, func(c string) bool { return c == "create" || strings.HasPrefix(c, "convert") }) {
				t.Errorf("a refused request reached accounts: %v", r.signups.calls)
			}
		})
	}
	// An unknown credential_type is reported with the other problems.
	r := newRig(t)
	w := r.call(http.MethodPost, "/v1/user_tokens", keyRW, `{"user_token":{"username":"sally","credential_type":"oauth2"}}`)
	if got := errorsOf(t, w); !slices.Equal(got, []string{"Email can't be blank", "Password can't be blank", "Credential type is not included in the list"}) {
		t.Errorf("credential_type: %q", got)
	}
	// A body without Content-Type is read as JSON; nulls are absent fields.
	r = newRig(t)
	req := httptest.NewRequest(http.MethodPost, "/v1/user_tokens", strings.NewReader(
		`{"user_token":{"username":" sally ","email":"sally@example.com","first_name":null,"password":"zq8Lw2mR4t-blue","password_confirmation":null}}`))
	req.Header.Set(headerAPIKey, keyRW)
	w = httptest.NewRecorder()
	r.router.ServeHTTP(w, req)
	if w.Code != 201 || r.signups.got.PasswordConfirmation != nil || r.signups.got.Username != " sally " {
		t.Errorf("no Content-Type: %d %s, passed %+v", w.Code, w.Body.String(), r.signups.got)
	}
}

// TestFailures: what accounts answers becomes the right status, always in
// the {"errors": [...]} shape.
func TestFailures(t *testing.T) {
	notFound := fmt.Errorf("wrapped: %w", accounts.ErrSignupTokenNotFound)
	for _, tc := range []struct {
		name             string
		method, path     string
		body             string
		err              error
		status           int
		message          string
		retryAfter       bool
		wantCallContains string
	}{
		{"create: hasher busy", "POST", "/v1/user_tokens", sallyBody, accounts.ErrBusy, 503,
			"The server is busy or could not reach its database; retry in a moment.", true, "create"},
		{"get: database down", "GET", "/v1/user_tokens/utk_0v6O8c6RsC9A5e2Fa9n5WX", "", fmt.Errorf("x: %w", core.ErrUnavailable), 503,
			"The server is busy or could not reach its database; retry in a moment.", true, "get"},
		{"discard: user store down", "DELETE", "/v1/user_tokens/utk_0v6O8c6RsC9A5e2Fa9n5WX", "", fmt.Errorf("x: %w", accounts.ErrUnavailable), 503,
			"The server is busy or could not reach its database; retry in a moment.", true, "discard"},
		{"get: a bug", "GET", "/v1/user_tokens/utk_0v6O8c6RsC9A5e2Fa9n5WX", "", errors.New("boom"), 500,
			"Internal error; quote request id req-1 when reporting it.", false, "get"},
		{"get: not found", "GET", "/v1/user_tokens/utk_0v6O8c6RsC9A5e2Fa9n5WX", "", notFound, 404, msgTokenNotFound, false, "get"},
		{"discard: not found", "DELETE", "/v1/user_tokens/utk_nope", "", notFound, 404, msgTokenNotFound, false, "discard"},
		{"convert: not found", "POST", "/v1/users", `{"user":{"user_token":"utk_0v6O8c6RsC9A5e2Fa9n5WX"}}`, notFound, 404, msgTokenNotFound, false, "convert"},
		{"convert: username taken", "POST", "/v1/users", `{"user":{"user_token":"utk_0v6O8c6RsC9A5e2Fa9n5WX"}}`, accounts.ErrUsernameTaken, 409,
			"Username has already been taken", false, "convert"},
		{"convert: email taken", "POST", "/v1/users", `{"user":{"user_token":"utk_0v6O8c6RsC9A5e2Fa9n5WX"}}`, fmt.Errorf("x: %w", accounts.ErrEmailTaken), 409,
			"Email has already been taken", false, "convert"},
		{"convert: rules changed", "POST", "/v1/users", `{"user":{"user_token":"utk_0v6O8c6RsC9A5e2Fa9n5WX"}}`,
			&accounts.ValidationError{Problems: []accounts.Problem{{Field: accounts.FieldUsername, Code: accounts.CodeInvalid, Message: "x"}}}, 422,
			"Username is invalid", false, "convert"},
		{"convert: database down", "POST", "/v1/users", `{"user":{"user_token":"utk_0v6O8c6RsC9A5e2Fa9n5WX"}}`, fmt.Errorf("x: %w", core.ErrUnavailable), 503,
			"The server is busy or could not reach its database; retry in a moment.", true, "convert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.signups.err = tc.err
			w := r.call(tc.method, tc.path, keyRW, tc.body)
			if w.Code != tc.status {
				t.Fatalf("%d %s, want %d", w.Code, w.Body.String(), tc.status)
			}
			if got := errorsOf(t, w); !slices.Equal(got, []string{tc.message}) {
				t.Errorf("errors %q, want %q", got, tc.message)
			}
			if ra := w.Header().Get("Retry-After"); (ra != "") != tc.retryAfter {
				t.Errorf("Retry-After %q", ra)
			}
			if !slices.ContainsFunc(r.signups.calls, func(c string) bool { return strings.HasPrefix(c, tc.wantCallContains) }) {
				t.Errorf("calls %v", r.signups.calls)
			}
		})
	}
}

func TestSuccesses(t *testing.T) {
	r := newRig(t)
	w := r.call(http.MethodDelete, "/v1/user_tokens/utk_0v6O8c6RsC9A5e2Fa9n5WX", keyRW, "")
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("discard: %d %q", w.Code, w.Body.String())
	}
	w = r.call(http.MethodPost, "/v1/users", keyRW, `{"user":{"user_token":" utk_0v6O8c6RsC9A5e2Fa9n5WX "}}`)
	want := `{"id":"usr_x","object":"user","realm_id":"rl_a","username":"sally","email":"sally@example.com","first_name":null,"last_name":null,"state":"active","user_type":"human","created_at":1795302228.123}`
	if w.Code != http.StatusCreated || strings.TrimSpace(w.Body.String()) != want {
		t.Errorf("convert: %d %s\nwant %s", w.Code, w.Body.String(), want)
	}
	if !slices.Contains(r.signups.calls, "convert rl_a utk_0v6O8c6RsC9A5e2Fa9n5WX") {
		t.Errorf("calls %v", r.signups.calls)
	}
}
