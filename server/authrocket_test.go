package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/secrethash"
)

// The AuthRocket surface end to end: a real server on loopback, on SQLite
// and on MariaDB (two replicas on one database where it matters).

// arKeys are the API keys an AuthRocket fixture declares: read-write and
// read-only keys of rl_test, and a read-write key of rl_other.
type arKeys struct{ rw, ro, other string }

// arEdit returns a config edit that declares keys (and applies more, if
// given, to the text first).
func arEdit(keys arKeys, more func(string) string) func(string) string {
	return func(y string) string {
		if more != nil {
			y = more(y)
		}
		h := func(k string) string {
			s, err := secrethash.Hash(k)
			if err != nil {
				panic(err)
			}
			return s
		}
		return y + fmt.Sprintf(`api_keys:
  - {id: ko_rw, realm: rl_test, key_hash: "%s", permissions: [read, write]}
  - {id: ko_ro, realm: rl_test, key_hash: "%s", permissions: [read]}
  - {id: ko_other, realm: rl_other, key_hash: "%s", permissions: [read, write]}
`, h(keys.rw), h(keys.ro), h(keys.other))
	}
}

func newARFixture(t *testing.T, o fixtureOpts) (*fixture, arKeys) {
	t.Helper()
	keys := arKeys{rw: secrethash.Generate(), ro: secrethash.Generate(), other: secrethash.Generate()}
	o.edit = arEdit(keys, o.edit)
	return newFixture(t, o), keys
}

// ar sends an AuthRocket request with the key (none when "") and a JSON
// body (none when ""); headers are name, value pairs.
func (f *fixture) ar(method, path, key, body string, headers ...string) (int, []byte, http.Header) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(f.ctx(), method, f.url("/authrocket"+path), rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if key != "" {
		req.Header.Set("X-Authrocket-Api-Key", key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// arErrors returns the messages of an {"errors": [...]} body, failing on
// any other shape.
func arErrors(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string][]string
	if err := json.Unmarshal(body, &m); err != nil || len(m) != 1 || len(m["errors"]) == 0 {
		t.Fatalf("body %s is not {\"errors\": [\"…\"]}", body)
	}
	return m["errors"]
}

// signupBody is a create request for username with a password the realm
// accepts.
func signupBody(username, email string) string {
	return fmt.Sprintf(`{"user_token":{"realm_id":"rl_test","username":%q,"email":%q,"password":%q,"password_confirmation":%q}}`,
		username, email, alicePassword, alicePassword)
}

// createToken creates a signup token and returns its id.
func (f *fixture) createToken(key, username, email string) string {
	f.t.Helper()
	code, body, _ := f.ar(http.MethodPost, "/v1/user_tokens", key, signupBody(username, email))
	if code != http.StatusCreated {
		f.t.Fatalf("create signup token: %d %s", code, body)
	}
	var tok struct{ ID string }
	if err := json.Unmarshal(body, &tok); err != nil {
		f.t.Fatal(err)
	}
	return tok.ID
}

// jsonTokens lists a JSON document's tokens (keys, values, delimiters) in
// order, so that two documents compare field for field and in order.
func jsonTokens(t *testing.T, doc []byte) []string {
	t.Helper()
	var out []string
	dec := json.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		out = append(out, fmt.Sprintf("%T:%v", tok, tok))
	}
}

// The seed's "Get a signup token" example, with the id of the token made here.
const arSeedGet = `{ "id" : "%s",
  "first_name" : null,
  "last_name" : null,
  "email" : "sally@example.com",
  "username" : "sally",
  "object" : "user_token",
  "credential_type" : "password"
}`

var utkID = regexp.MustCompile(`^utk_[0-9A-Za-z]{22}$`)

// TestAuthRocketSeedExamples: the seed's create and get, field for field.
// The seed's own password ("secret") is refused by the realm's policy, with
// AuthRocket's wording.
func TestAuthRocketSeedExamples(t *testing.T) {
	for _, db := range []string{"sqlite", "mysql"} {
		t.Run(db, func(t *testing.T) {
			f, keys := newARFixture(t, fixtureOpts{mysql: db == "mysql"})
			code, body, hdr := f.ar(http.MethodPost, "/v1/user_tokens", keys.rw,
				`{ "user_token" :
  { "realm_id" : "rl_test",
    "username" : "sally",
    "email" : "sally@example.com",
    "password" : "secret",
    "password_confirmation" : "secret"
  }
}`)
			if got := arErrors(t, body); code != http.StatusUnprocessableEntity ||
				!slices.Equal(got, []string{"Password is too short (minimum is 10 characters)"}) {
				t.Fatalf("the seed's request: %d %q", code, got)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}

			code, created, _ := f.ar(http.MethodPost, "/v1/user_tokens", keys.rw, signupBody("sally", "sally@example.com"))
			if code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, created)
			}
			var tok struct{ ID string }
			_ = json.Unmarshal(created, &tok)
			if !utkID.MatchString(tok.ID) {
				t.Fatalf("id %q is not utk_ and 22 base62 characters", tok.ID)
			}
			want := jsonTokens(t, fmt.Appendf(nil, arSeedGet, tok.ID))
			if got := jsonTokens(t, created); !slices.Equal(got, want) {
				t.Errorf("create answered %s\nwant the seed's %s", created, fmt.Sprintf(arSeedGet, tok.ID))
			}
			code, got, _ := f.ar(http.MethodGet, "/v1/user_tokens/"+tok.ID, keys.ro, "")
			if code != http.StatusOK || !slices.Equal(jsonTokens(t, got), want) {
				t.Errorf("get: %d %s\nwant the seed's %s", code, got, fmt.Sprintf(arSeedGet, tok.ID))
			}
			for _, b := range [][]byte{created, got} {
				if bytes.Contains(b, []byte(alicePassword)) || bytes.Contains(b, []byte(`"password":`)) || bytes.Contains(b, []byte("argon2")) {
					t.Errorf("the answer shows the password: %s", b)
				}
			}

			// Names, when given, are strings; the realm's key may also name
			// its realm.
			code, named, _ := f.ar(http.MethodPost, "/v1/user_tokens", keys.rw,
				`{"user_token":{"username":"bob","email":"bob@example.com","first_name":"Bob","last_name":"Byte","password":"`+alicePassword+`"}}`,
				"X-Authrocket-Realm", "rl_test")
			if code != http.StatusCreated || !bytes.Contains(named, []byte(`"first_name":"Bob","last_name":"Byte","email":"bob@example.com","username":"bob"`)) {
				t.Errorf("create with names: %d %s", code, named)
			}
		})
	}
}

// TestAuthRocketAuth: no key, a wrong key, another realm's key, and a
// read-only key on create; each refusal changes nothing.
func TestAuthRocketAuth(t *testing.T) {
	f, keys := newARFixture(t, fixtureOpts{})
	id := f.createToken(keys.rw, "sally", "sally@example.com")
	for _, tc := range []struct {
		name         string
		method, path string
		key, body    string
		headers      []string
		status       int
		message      string
	}{
		{"no key", "GET", "/v1/user_tokens/" + id, "", "", nil, 401, "Send an API key in the X-Authrocket-Api-Key header."},
		{"no key, create", "POST", "/v1/user_tokens", "", signupBody("eve", "eve@example.com"), nil, 401, "Send an API key in the X-Authrocket-Api-Key header."},
		{"wrong key", "GET", "/v1/user_tokens/" + id, keys.rw + "x", "", nil, 401, "The API key is not valid."},
		{"a key in the Authorization header", "GET", "/v1/user_tokens/" + id, "", "", []string{"Authorization", "Bearer " + keys.rw}, 401,
			"Send an API key in the X-Authrocket-Api-Key header."},
		{"another realm's key, naming this realm", "GET", "/v1/user_tokens/" + id, keys.other, "", []string{"X-Authrocket-Realm", "rl_test"}, 403,
			"The API key is not valid for the realm named in X-Authrocket-Realm."},
		{"this realm's key, naming another realm", "GET", "/v1/user_tokens/" + id, keys.rw, "", []string{"X-Authrocket-Realm", "rl_other"}, 403,
			"The API key is not valid for the realm named in X-Authrocket-Realm."},
		{"another realm's key: the token is not there", "GET", "/v1/user_tokens/" + id, keys.other, "", nil, 404,
			"No such signup token: it is unknown, expired, discarded or already converted."},
		{"another realm's key cannot discard it", "DELETE", "/v1/user_tokens/" + id, keys.other, "", nil, 404,
			"No such signup token: it is unknown, expired, discarded or already converted."},
		{"another realm's key cannot convert it", "POST", "/v1/users", keys.other, `{"user":{"user_token":"` + id + `"}}`, nil, 404,
			"No such signup token: it is unknown, expired, discarded or already converted."},
		{"a body naming another realm", "POST", "/v1/user_tokens", keys.rw,
			`{"user_token":{"realm_id":"rl_other","username":"eve","email":"eve@example.com","password":"` + alicePassword + `"}}`, nil, 403,
			"The API key is not valid for the realm named in realm_id."},
		{"read-only key, create", "POST", "/v1/user_tokens", keys.ro, signupBody("eve", "eve@example.com"), nil, 403,
			"The API key lacks the write permission, which this request needs."},
		{"read-only key, discard", "DELETE", "/v1/user_tokens/" + id, keys.ro, "", nil, 403,
			"The API key lacks the write permission, which this request needs."},
		{"read-only key, convert", "POST", "/v1/users", keys.ro, `{"user":{"user_token":"` + id + `"}}`, nil, 403,
			"The API key lacks the write permission, which this request needs."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.ar(tc.method, tc.path, tc.key, tc.body, tc.headers...)
			if got := arErrors(t, body); code != tc.status || !slices.Equal(got, []string{tc.message}) {
				t.Errorf("%d %q, want %d %q", code, got, tc.status, tc.message)
			}
		})
	}
	// Nothing changed: the token is there, no user and no other token.
	if code, body, _ := f.ar(http.MethodGet, "/v1/user_tokens/"+id, keys.ro, ""); code != http.StatusOK {
		t.Errorf("the token after the refusals: %d %s", code, body)
	}
	if n := f.userCount(); n != 0 {
		t.Errorf("%d users after refused requests", n)
	}
	if n, err := f.store.PurgeExpired(f.ctx(), time.Now().Add(48*time.Hour), 0); err != nil || n != 1 {
		t.Errorf("signup tokens stored: %d (%v), want the one made first", n, err)
	}
}

// convertAll sends n conversions of the tokens ids (round robin) at once,
// spread over the servers fs, and returns the statuses and the created
// users' ids.
func convertAll(t *testing.T, fs []*fixture, key string, ids []string, n int) (statuses map[int]int, users []string) {
	t.Helper()
	statuses = map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		f, id := fs[i%len(fs)], ids[i%len(ids)]
		wg.Go(func() {
			<-start
			code, body, _ := f.ar(http.MethodPost, "/v1/users", key, `{"user":{"user_token":"`+id+`"}}`)
			mu.Lock()
			defer mu.Unlock()
			statuses[code]++
			switch code {
			case http.StatusCreated:
				var u struct{ ID string }
				_ = json.Unmarshal(body, &u)
				users = append(users, u.ID)
			case http.StatusNotFound:
			default:
				t.Errorf("a conversion answered %d %s", code, body)
			}
		})
	}
	close(start)
	wg.Wait()
	return statuses, users
}

// TestAuthRocketConversion: five parallel conversions of one token make
// exactly one user, whose signup password logs in; the token's sibling is
// void; on MariaDB the same across two replicas.
func TestAuthRocketConversion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mysql    bool
		replicas bool
	}{{"sqlite", false, false}, {"mysql", true, false}, {"mysql two replicas", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			f, keys := newARFixture(t, fixtureOpts{mysql: tc.mysql})
			servers := []*fixture{f}
			if tc.replicas {
				servers = append(servers, newFixture(t, fixtureOpts{replicaOf: f}))
			}
			for round := range 3 {
				username := fmt.Sprintf("sally%d", round)
				tok := f.createToken(keys.rw, username, username+"@example.com")
				sibling := servers[len(servers)-1].createToken(keys.rw, username, username+"@example.com")
				other := f.createToken(keys.rw, "other"+username, "other"+username+"@example.com")

				statuses, users := convertAll(t, servers, keys.rw, []string{tok}, 5)
				if statuses[http.StatusCreated] != 1 || statuses[http.StatusNotFound] != 4 {
					t.Fatalf("round %d: five conversions of one token answered %v, want one 201 and four 404", round, statuses)
				}
				for _, s := range servers {
					for _, id := range []string{tok, sibling} {
						if code, body, _ := s.ar(http.MethodGet, "/v1/user_tokens/"+id, keys.rw, ""); code != http.StatusNotFound {
							t.Errorf("round %d: token %s after conversion: %d %s", round, id, code, body)
						}
					}
					code, body, _ := s.ar(http.MethodPost, "/v1/users", keys.rw, `{"user":{"user_token":"`+sibling+`"}}`)
					if got := arErrors(t, body); code != http.StatusNotFound ||
						!slices.Equal(got, []string{"No such signup token: it is unknown, expired, discarded or already converted."}) {
						t.Errorf("round %d: converting the sibling: %d %q", round, code, got)
					}
				}
				if code, _, _ := f.ar(http.MethodGet, "/v1/user_tokens/"+other, keys.rw, ""); code != http.StatusOK {
					t.Errorf("round %d: another username's token: %d", round, code)
				}
				u, err := f.srv.Accounts().GetByUsername(f.ctx(), "rl_test", username)
				if err != nil || len(users) != 1 || u.ID != users[0] {
					t.Fatalf("round %d: user %+v, %v; created %v", round, u, err, users)
				}
				// The password typed at signup is the user's password.
				if tok := servers[len(servers)-1].login(username, alicePassword); tok.AccessToken == "" {
					t.Errorf("round %d: no access token", round)
				}
			}
			if n := f.userCount(); n != 3 {
				t.Errorf("%d users, want 3", n)
			}

			// Siblings raced against each other: still one user.
			a := f.createToken(keys.rw, "racer", "racer@example.com")
			b := servers[len(servers)-1].createToken(keys.rw, "racer", "racer@example.com")
			statuses, _ := convertAll(t, servers, keys.rw, []string{a, b}, 10)
			if statuses[http.StatusCreated] != 1 || statuses[http.StatusNotFound] != 9 {
				t.Errorf("ten conversions of two siblings answered %v, want one 201", statuses)
			}
		})
	}
}

// TestAuthRocketConversionAnswer: the user a conversion creates.
func TestAuthRocketConversionAnswer(t *testing.T) {
	f, keys := newARFixture(t, fixtureOpts{})
	before := time.Now().Add(-time.Second)
	code, body, _ := f.ar(http.MethodPost, "/v1/user_tokens", keys.rw,
		`{"user_token":{"username":"Sally","email":"Sally@Example.com","first_name":"Sally","password":"`+alicePassword+`"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var tok struct{ ID string }
	_ = json.Unmarshal(body, &tok)
	code, body, _ = f.ar(http.MethodPost, "/v1/users", keys.rw, `{"user":{"user_token":"`+tok.ID+`"}}`)
	if code != http.StatusCreated {
		t.Fatalf("convert: %d %s", code, body)
	}
	var u map[string]any
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatal(err)
	}
	created, _ := u["created_at"].(float64)
	if id, _ := u["id"].(string); !strings.HasPrefix(id, "usr_") || u["object"] != "user" || u["realm_id"] != "rl_test" ||
		u["username"] != "Sally" || u["email"] != "Sally@Example.com" || u["first_name"] != "Sally" || u["last_name"] != nil ||
		u["state"] != "active" || u["user_type"] != "human" || created < float64(before.Unix()) || created > float64(time.Now().Unix()+1) {
		t.Errorf("user %s", body)
	}
	if len(u) != 10 || bytes.Contains(body, []byte("password")) {
		t.Errorf("user has other fields than the ten: %s", body)
	}
}

// TestAuthRocketTakenMeanwhile: a username or e-mail taken after the token
// was made is a 409 and changes nothing: the token stays.
func TestAuthRocketTakenMeanwhile(t *testing.T) {
	for _, db := range []string{"sqlite", "mysql"} {
		t.Run(db, func(t *testing.T) {
			f, keys := newARFixture(t, fixtureOpts{mysql: db == "mysql"})
			byName := f.createToken(keys.rw, "sally", "sally@example.com")
			first := f.createToken(keys.rw, "carol", "carol@example.com")
			byEmail := f.createToken(keys.rw, "caz", "Carol@example.com")
			f.addUser("SALLY", alicePassword) // another door took the name

			// Creating a token for a taken name is refused at once.
			code, body, _ := f.ar(http.MethodPost, "/v1/user_tokens", keys.rw, signupBody("Sally", "new@example.com"))
			if got := arErrors(t, body); code != http.StatusUnprocessableEntity || !slices.Equal(got, []string{"Username has already been taken"}) {
				t.Errorf("create for a taken username: %d %q", code, got)
			}
			code, body, _ = f.ar(http.MethodPost, "/v1/users", keys.rw, `{"user":{"user_token":"`+byName+`"}}`)
			if got := arErrors(t, body); code != http.StatusConflict || !slices.Equal(got, []string{"Username has already been taken"}) {
				t.Errorf("convert a taken username: %d %q", code, got)
			}
			if code, _, _ := f.ar(http.MethodPost, "/v1/users", keys.rw, `{"user":{"user_token":"`+first+`"}}`); code != http.StatusCreated {
				t.Fatalf("convert carol: %d", code)
			}
			code, body, _ = f.ar(http.MethodPost, "/v1/users", keys.rw, `{"user":{"user_token":"`+byEmail+`"}}`)
			if got := arErrors(t, body); code != http.StatusConflict || !slices.Equal(got, []string{"Email has already been taken"}) {
				t.Errorf("convert a taken e-mail: %d %q", code, got)
			}
			for _, id := range []string{byName, byEmail} {
				if code, body, _ := f.ar(http.MethodGet, "/v1/user_tokens/"+id, keys.rw, ""); code != http.StatusOK {
					t.Errorf("the token of a refused conversion: %d %s", code, body)
				}
			}
			if n := f.userCount(); n != 2 {
				t.Errorf("%d users, want SALLY and carol", n)
			}
		})
	}
}

// TestAuthRocketDiscardAndExpiry: a discarded token is gone, its sibling
// stays; a token lapses after the realm's signup_token_ttl and the purge
// deletes it.
func TestAuthRocketDiscardAndExpiry(t *testing.T) {
	f, keys := newARFixture(t, fixtureOpts{edit: func(y string) string {
		return strings.Replace(y, "{id: rl_test, name: Test,", "{id: rl_test, name: Test, signup_token_ttl: 1s,", 1)
	}})
	a := f.createToken(keys.rw, "dora", "dora@example.com")
	b := f.createToken(keys.rw, "dora", "dora@example.com")
	code, body, _ := f.ar(http.MethodDelete, "/v1/user_tokens/"+a, keys.rw, "")
	if code != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("discard: %d %q", code, body)
	}
	for _, req := range [][3]string{{"DELETE", "/v1/user_tokens/" + a, ""}, {"GET", "/v1/user_tokens/" + a, ""},
		{"POST", "/v1/users", `{"user":{"user_token":"` + a + `"}}`}} {
		if code, body, _ := f.ar(req[0], req[1], keys.rw, req[2]); code != http.StatusNotFound {
			t.Errorf("%s %s after discard: %d %s", req[0], req[1], code, body)
		}
	}
	if code, _, _ := f.ar(http.MethodGet, "/v1/user_tokens/"+b, keys.rw, ""); code != http.StatusOK {
		t.Errorf("the sibling of a discarded token: %d", code)
	}
	time.Sleep(1100 * time.Millisecond)
	for _, req := range [][3]string{{"GET", "/v1/user_tokens/" + b, ""}, {"POST", "/v1/users", `{"user":{"user_token":"` + b + `"}}`},
		{"DELETE", "/v1/user_tokens/" + b, ""}} {
		if code, body, _ := f.ar(req[0], req[1], keys.rw, req[2]); code != http.StatusNotFound {
			t.Errorf("%s %s after expiry: %d %s", req[0], req[1], code, body)
		}
	}
	if n, err := f.store.PurgeExpired(f.ctx(), time.Now(), 0); err != nil || n != 1 {
		t.Errorf("purge: %d, %v; want the expired token", n, err)
	}
	if n := f.userCount(); n != 0 {
		t.Errorf("%d users", n)
	}
}

// TestAuthRocketBadInput: every bad input is a clear 4xx, never a 500.
func TestAuthRocketBadInput(t *testing.T) {
	f, keys := newARFixture(t, fixtureOpts{})
	big := `{"user_token":{"username":"` + strings.Repeat("x", 70<<10) + `"}}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"unknown id", "GET", "/v1/user_tokens/utk_0v6O8c6RsC9A5e2Fa9n5WX", "", 404},
		{"not an id", "GET", "/v1/user_tokens/%27%20OR%201%3D1--", "", 404},
		{"a very long id", "GET", "/v1/user_tokens/utk_" + strings.Repeat("A", 4000), "", 404},
		{"not UTF-8", "GET", "/v1/user_tokens/utk_%ff%fe", "", 404},
		{"not JSON", "POST", "/v1/user_tokens", "{", 400},
		{"a number for a name", "POST", "/v1/user_tokens", `{"user_token":{"username":1}}`, 400},
		{"a string for the object", "POST", "/v1/user_tokens", `{"user_token":"sally"}`, 400},
		{"control characters", "POST", "/v1/user_tokens", `{"user_token":{"username":"a\u0000b","email":"a@b.c","password":"` + alicePassword + `"}}`, 422},
		{"invalid UTF-8", "POST", "/v1/user_tokens", "{\"user_token\":{\"username\":\"\xff\",\"email\":\"a@b.c\",\"password\":\"" + alicePassword + "\"}}", 400},
		{"conversion of garbage", "POST", "/v1/users", `{"user":{"user_token":"utk_` + strings.Repeat("é", 300) + `"}}`, 404},
		{"conversion without a token", "POST", "/v1/users", `{"user":{}}`, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.ar(tc.method, tc.path, keys.rw, tc.body)
			if code != tc.status {
				t.Fatalf("%d %s, want %d", code, body, tc.status)
			}
			arErrors(t, body)
		})
	}
	// An oversized body: 413 (declared by Content-Length, the server's
	// middleware answers before the route; sent chunked, the route does).
	if code, body, _ := f.ar(http.MethodPost, "/v1/user_tokens", keys.rw, big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 70 KiB body: %d %s", code, body)
	}
	req, _ := http.NewRequestWithContext(f.ctx(), http.MethodPost, f.url("/authrocket/v1/user_tokens"), io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Authrocket-Api-Key", keys.rw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := arErrors(t, b); resp.StatusCode != http.StatusRequestEntityTooLarge || !slices.Equal(got, []string{"The request body is larger than the 64 KiB limit."}) {
		t.Errorf("a chunked 70 KiB body: %d %q", resp.StatusCode, got)
	}
}

// TestAuthRocketBusyHasher: a burst of creates beyond the bound on hashes
// gets 503 with Retry-After (never a 500), and stores nothing for them.
func TestAuthRocketBusyHasher(t *testing.T) {
	f, keys := newARFixture(t, fixtureOpts{edit: func(y string) string {
		return y + "passwords: {max_concurrent_hashes: 1, queue_timeout: 0s}\n"
	}})
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 12 {
		wg.Go(func() {
			<-start
			code, body, hdr := f.ar(http.MethodPost, "/v1/user_tokens", keys.rw, signupBody(fmt.Sprint("burst", i), fmt.Sprintf("burst%d@example.com", i)))
			mu.Lock()
			defer mu.Unlock()
			statuses[code]++
			switch code {
			case http.StatusCreated:
			case http.StatusServiceUnavailable:
				if hdr.Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After")
				}
				if got := arErrors(t, body); !slices.Equal(got, []string{"The server is busy or could not reach its database; retry in a moment."}) {
					t.Errorf("503: %q", got)
				}
			default:
				t.Errorf("a create in the burst answered %d %s", code, body)
			}
		})
	}
	close(start)
	wg.Wait()
	if statuses[http.StatusServiceUnavailable] == 0 || statuses[http.StatusCreated] == 0 {
		t.Errorf("burst answered %v, want some 201 and some 503", statuses)
	}
	n, err := f.store.PurgeExpired(f.ctx(), time.Now().Add(48*time.Hour), 0)
	if err != nil || int(n) != statuses[http.StatusCreated] {
		t.Errorf("%d tokens stored (%v), want one per 201 (%d)", n, err, statuses[http.StatusCreated])
	}
}

// TestAuthRocketSurfaceSwitch: compat.authrocket moves the routes or
// switches them off.
func TestAuthRocketSurfaceSwitch(t *testing.T) {
	f, keys := newARFixture(t, fixtureOpts{edit: func(y string) string {
		return y + "compat:\n  authrocket: {enabled: true, prefix: /ar}\n"
	}})
	req, _ := http.NewRequestWithContext(f.ctx(), http.MethodPost, f.url("/ar/v1/user_tokens"), strings.NewReader(signupBody("sally", "sally@example.com")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Authrocket-Api-Key", keys.rw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("create under the moved prefix: %d", resp.StatusCode)
	}
	if code, _, _ := f.ar(http.MethodPost, "/v1/user_tokens", keys.rw, signupBody("bob", "bob@example.com")); code != http.StatusNotFound {
		t.Errorf("the old prefix: %d, want 404", code)
	}

	off, offKeys := newARFixture(t, fixtureOpts{edit: func(y string) string {
		return y + "compat:\n  authrocket: {enabled: false}\n"
	}})
	if code, body, _ := off.ar(http.MethodPost, "/v1/user_tokens", offKeys.rw, signupBody("sally", "sally@example.com")); code != http.StatusNotFound {
		t.Errorf("switched off: %d %s, want 404", code, body)
	}
}
