package server_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/softauthn"
	"github.com/latchkey/latchkey/sdk/servicetoken"
)

// The attacks, over HTTP: each is refused with a clear 4xx and one
// sentence, and leaves no user, credential or session behind.
func TestLoginIDPasskeyRefusals(t *testing.T) { onEachDB(t, testLoginIDPasskeyRefusals) }

func testLoginIDPasskeyRefusals(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	tok := func(scope string, opt servicetoken.Options) string { return lf.st([]string{scope}, opt) }
	quinn, rosa := lidAuthn(), lidAuthn()
	quinnID := lidCheckPasskeyResponse(t, lf, lf.registerPasskey(quinn, "quinn"), "quinn", "")
	rosaID := lidCheckPasskeyResponse(t, lf, lf.registerPasskey(rosa, "rosa"), "rosa", "")
	lf.mustCreate("sam", alicePassword) // a password user, no passkey
	usersBefore := lf.userCount()

	complete := func(path string, body map[string]any, hdr ...string) lidResp {
		return lf.call("POST", path, "", body, hdr...)
	}
	cases := []struct {
		name   string
		do     func(t *testing.T) lidResp
		status int
		code   string
		says   string // a part of the message
	}{
		{"replayed challenge", func(t *testing.T) lidResp {
			body := lf.loginBody(quinn, "quinn")
			if r := lf.loginComplete(body); r.status != 200 {
				t.Fatalf("first complete: %v", r)
			}
			return lf.loginComplete(body)
		}, 401, "unauthorized", "already used"},
		{"challenge of another user", func(t *testing.T) lidResp {
			body := lf.loginBody(quinn, "quinn")
			body["username"] = "rosa"
			return lf.loginComplete(body)
		}, 401, "unauthorized", "another ceremony"},
		{"another user's passkey on this user's challenge", func(t *testing.T) lidResp {
			ap := lf.obj(lf.loginInit("quinn"), "assertion_payload")
			delete(ap, "allowCredentials")
			return lf.loginComplete(map[string]any{"client_id": "cred_a", "username": "quinn", "assertion_payload": lidAssertion(ap["challenge"], lf.assertWith(rosa, ap))})
		}, 401, "unauthorized", "another ceremony"},
		{"challenge of another ceremony (a registration's)", func(t *testing.T) lidResp {
			att := lf.obj(lf.registerInit("tess"), "attestation_payload")
			body := lf.loginBody(quinn, "quinn")
			body["assertion_payload"].(map[string]any)["challenge"] = att["challenge"]
			return lf.loginComplete(body)
		}, 401, "unauthorized", "another ceremony"},
		{"challenge unknown", func(t *testing.T) lidResp {
			body := lf.loginBody(quinn, "quinn")
			body["assertion_payload"].(map[string]any)["challenge"] = strings.Repeat("A", 43)
			return lf.loginComplete(body)
		}, 401, "unauthorized", "unknown"},
		{"wrong origin", func(t *testing.T) lidResp {
			evil := softauthn.New(lidRPID, "http://evil.localhost:8080", softauthn.Options{})
			evil.ShareCredentials(quinn)
			return lf.loginComplete(lf.loginBody(evil, "quinn"))
		}, 401, "unauthorized", "does not verify"},
		{"wrong relying party", func(t *testing.T) lidResp {
			evil := softauthn.New("evil.test", lidOrigin, softauthn.Options{})
			evil.ShareCredentials(quinn)
			return lf.loginComplete(lf.loginBody(evil, "quinn"))
		}, 401, "unauthorized", "does not verify"},
		{"tampered signature", func(t *testing.T) lidResp {
			body := lf.loginBody(quinn, "quinn")
			ap := body["assertion_payload"].(map[string]any)
			sig, _ := base64.RawURLEncoding.DecodeString(ap["signature"].(string))
			sig[len(sig)-1] ^= 1
			ap["signature"] = lidB64(sig)
			return lf.loginComplete(body)
		}, 401, "unauthorized", "does not verify"},
		{"unknown user: the decoy cannot sign in", func(t *testing.T) lidResp {
			ap := lf.obj(lf.loginInit("nobody"), "assertion_payload")
			delete(ap, "allowCredentials")
			return lf.loginComplete(map[string]any{"client_id": "cred_a", "username": "nobody", "assertion_payload": lidAssertion(ap["challenge"], lf.assertWith(quinn, ap))})
		}, 401, "unauthorized", "not registered"},
		{"binary value not base64url", func(t *testing.T) lidResp {
			body := lf.loginBody(quinn, "quinn")
			body["assertion_payload"].(map[string]any)["signature"] = "not base64url!"
			return lf.loginComplete(body)
		}, 400, "invalid_parameter", "assertion_payload.signature"},
		{"a token on a complete route", func(t *testing.T) lidResp {
			body := lf.loginBody(quinn, "quinn")
			return lf.call("POST", "/authenticate/fido2/complete", tok("auth.login", servicetoken.Options{}), body)
		}, 400, "invalid_parameter", "takes no token"},
		{"409 for a taken username", func(t *testing.T) lidResp { return lf.registerInit("QUINN") }, 409, "user_exists", "username is already taken"},
		{"409 for a password user's username", func(t *testing.T) lidResp { return lf.registerInit("sam") }, 409, "user_exists", "taken"},
		{"409 at complete for a username taken since the init", func(t *testing.T) lidResp {
			att := lf.obj(lf.registerInit("walt"), "attestation_payload")
			if r := lf.call("POST", "/manage/users", tok("users.create", servicetoken.Options{}), map[string]any{"username": "walt"}); r.status >= 300 {
				t.Fatalf("create walt meanwhile: %v", r)
			}
			return complete("/register/fido2/complete", map[string]any{"client_id": "cred_a", "username": "walt", "attestation_payload": lf.attest(lidAuthn(), att)})
		}, 409, "user_exists", "taken"},
		{"registration: tampered attestation leaves no user", func(t *testing.T) lidResp {
			att := lf.obj(lf.registerInit("uma"), "attestation_payload")
			ans := lf.attest(lidAuthn(), att)
			cd, _ := base64.RawURLEncoding.DecodeString(ans["client_data"].(string))
			ans["client_data"] = lidB64([]byte(strings.Replace(string(cd), lidOrigin, "http://evil.localhost:8080", 1)))
			r := complete("/register/fido2/complete", map[string]any{"client_id": "cred_a", "username": "uma", "attestation_payload": ans})
			if lf.call("POST", "/manage/users/retrieve", tok("users.retrieve", servicetoken.Options{}), map[string]any{"username": "uma"}).status != 404 {
				t.Error("a refused registration left a user")
			}
			return r
		}, 401, "unauthorized", "does not verify"},
		{"registration: the ceremony is used up by a refused answer", func(t *testing.T) lidResp {
			att := lf.obj(lf.registerInit("vic"), "attestation_payload")
			a := lidAuthn()
			good := lf.attest(a, att)
			bad := lidCopy(good)
			bad["credential_uuid"] = "00000000-0000-4000-8000-000000000000"
			if r := complete("/register/fido2/complete", map[string]any{"client_id": "cred_a", "username": "vic", "attestation_payload": bad}); r.status != 401 {
				t.Fatalf("another credential uuid: %v", r)
			}
			return complete("/register/fido2/complete", map[string]any{"client_id": "cred_a", "username": "vic", "attestation_payload": good})
		}, 401, "unauthorized", "already used"},
		{"registration completed as another username", func(t *testing.T) lidResp {
			att := lf.obj(lf.registerInit("wes"), "attestation_payload")
			return complete("/register/fido2/complete", map[string]any{"client_id": "cred_a", "username": "xavier", "attestation_payload": lf.attest(lidAuthn(), att)})
		}, 401, "unauthorized", "another ceremony"},
		{"add-passkey ceremony completed for another user", func(t *testing.T) lidResp {
			fa := lf.obj(lf.call("POST", "/credentials/fido2/init/force", tok("credentials.force", servicetoken.Options{}), map[string]any{"user_id": quinnID}), "attestation_payload")
			return complete("/credentials/fido2/complete", map[string]any{"client_id": "cred_a", "user_id": rosaID, "attestation_payload": lf.attest(lidAuthn(), fa)})
		}, 401, "unauthorized", "another ceremony"},
		{"a registration's challenge at the add-passkey complete", func(t *testing.T) lidResp {
			att := lf.obj(lf.registerInit("yara"), "attestation_payload")
			return complete("/credentials/fido2/complete", map[string]any{"client_id": "cred_a", "username": "yara", "attestation_payload": lf.attest(lidAuthn(), att)})
		}, 401, "unauthorized", "another ceremony"},
		{"a bad credential name, before the ceremony is used", func(t *testing.T) lidResp {
			att := lf.obj(lf.registerInit("zed"), "attestation_payload")
			ans := lf.attest(lidAuthn(), att)
			r := complete("/register/fido2/complete", map[string]any{"client_id": "cred_a", "username": "zed", "attestation_payload": ans,
				"options": map[string]any{"credential_name": strings.Repeat("n", 300)}})
			if ok := complete("/register/fido2/complete", map[string]any{"client_id": "cred_a", "username": "zed", "attestation_payload": ans}); ok.status != 200 {
				t.Errorf("the ceremony after a refused name: %v", ok)
			}
			return r
		}, 400, "invalid_parameter", "name"},
		{"add by an unauthorized code", func(t *testing.T) lidResp {
			gen := lf.call("POST", "/codes/short/generate", tok("codes.generate", servicetoken.Options{}), map[string]any{"user_id": quinnID, "purpose": "add_credential"})
			return lf.call("POST", "/credentials/fido2/init/code", "", map[string]any{"client_id": "cred_a", "user_id": quinnID,
				"authentication_code": map[string]any{"code": gen.body["code"], "type": "short"}})
		}, 400, "invalid_code", "not authorized"},
		{"add by a wrong code", func(t *testing.T) lidResp {
			return lf.call("POST", "/credentials/fido2/init/code", "", map[string]any{"client_id": "cred_a", "user_id": quinnID,
				"authentication_code": map[string]any{"code": "000000", "type": "short"}})
		}, 400, "invalid_code", "code"},
		{"add by another purpose's code", func(t *testing.T) lidResp {
			gen := lf.call("POST", "/codes/short/generate", tok("codes.generate", servicetoken.Options{}), map[string]any{"user_id": quinnID, "purpose": "temporary_authentication", "authorize": true})
			return lf.call("POST", "/credentials/fido2/init/code", "", map[string]any{"client_id": "cred_a", "user_id": quinnID,
				"authentication_code": map[string]any{"code": gen.body["code"], "type": "short"}})
		}, 400, "invalid_code", "code"},
		{"tx_payload other than the token's payload_hash", func(t *testing.T) lidResp {
			return lf.call("POST", "/tx", tok("tx.create", servicetoken.Options{PayloadHash: servicetoken.PayloadHash("Pay 10 EUR to Bob")}),
				map[string]any{"tx_type": "text", "tx_payload": "Pay 10000 EUR to Mallory", "username": "quinn"})
		}, 403, "operation_not_allowed", "payload_hash"},
		{"inline tx_payload other than the token's payload_hash", func(t *testing.T) lidResp {
			return lf.call("POST", "/tx/init", tok("tx.create", servicetoken.Options{PayloadHash: servicetoken.PayloadHash("Pay 10 EUR to Bob")}),
				map[string]any{"tx_type": "text", "tx_payload": "Pay 10000 EUR to Mallory", "username": "quinn"})
		}, 403, "operation_not_allowed", "payload_hash"},
		{"inline tx_payload without a token", func(t *testing.T) lidResp {
			return lf.call("POST", "/tx/init", "", map[string]any{"client_id": "cred_a", "tx_type": "text", "tx_payload": "x", "username": "quinn"})
		}, 401, "unauthorized", "tx.create"},
		{"tx for a token of another user", func(t *testing.T) lidResp {
			return lf.call("POST", "/tx", tok("tx.create", servicetoken.Options{Username: "rosa"}), map[string]any{"tx_type": "text", "tx_payload": "x", "username": "quinn"})
		}, 403, "operation_not_allowed", "another user"},
		{"tx payload too long", func(t *testing.T) lidResp {
			return lf.call("POST", "/tx", tok("tx.create", servicetoken.Options{}), map[string]any{"tx_type": "text", "tx_payload": strings.Repeat("x", 4097), "username": "quinn"})
		}, 400, "invalid_parameter", "4096"},
		{"tx of another type", func(t *testing.T) lidResp {
			return lf.call("POST", "/tx", tok("tx.create", servicetoken.Options{}), map[string]any{"tx_type": "html", "tx_payload": "x", "username": "quinn"})
		}, 400, "invalid_parameter", "tx_type"},
		{"transaction completed twice", func(t *testing.T) lidResp {
			txID, ao := lf.startTx(t, "quinn", "Pay once")
			body := lidTxAssertion(txID, "quinn", ao["challenge"], lf.assertWith(quinn, ao))
			if r := complete("/tx/complete", body); r.status != 200 {
				t.Fatalf("first: %v", r)
			}
			return complete("/tx/complete", body)
		}, 401, "unauthorized", "already used"},
		{"transaction confirmed again by a new ceremony", func(t *testing.T) lidResp {
			txID, ao := lf.startTx(t, "quinn", "Pay once more")
			if r := complete("/tx/complete", lidTxAssertion(txID, "quinn", ao["challenge"], lf.assertWith(quinn, ao))); r.status != 200 {
				t.Fatalf("first: %v", r)
			}
			return lf.call("POST", "/tx/init", "", map[string]any{"client_id": "cred_a", "username": "quinn", "tx_id": txID})
		}, 404, "not_found", "transaction"},
		{"tx for another user's tx_id", func(t *testing.T) lidResp {
			txID, _ := lf.startTx(t, "quinn", "Quinn's")
			return lf.call("POST", "/tx/init", "", map[string]any{"client_id": "cred_a", "username": "rosa", "tx_id": txID})
		}, 404, "not_found", "transaction"},
		{"tx_id of an unknown user, the same answer", func(t *testing.T) lidResp {
			txID, _ := lf.startTx(t, "quinn", "Quinn's too")
			return lf.call("POST", "/tx/init", "", map[string]any{"client_id": "cred_a", "username": "nobody", "tx_id": txID})
		}, 404, "not_found", "transaction"},
		{"tx completed as another transaction", func(t *testing.T) lidResp {
			txA, ao := lf.startTx(t, "quinn", "A")
			txB, _ := lf.startTx(t, "quinn", "B")
			_ = txA
			return complete("/tx/complete", lidTxAssertion(txB, "quinn", ao["challenge"], lf.assertWith(quinn, ao)))
		}, 401, "unauthorized", "another ceremony"},
		{"tx completed by another user's passkey", func(t *testing.T) lidResp {
			txID, ao := lf.startTx(t, "quinn", "Quinn pays")
			delete(ao, "allowCredentials")
			return complete("/tx/complete", lidTxAssertion(txID, "quinn", ao["challenge"], lf.assertWith(rosa, ao)))
		}, 401, "unauthorized", "another ceremony"},
		{"tx of a user without passkeys", func(t *testing.T) lidResp {
			return lf.call("POST", "/tx/init", tok("tx.create", servicetoken.Options{}), map[string]any{"tx_type": "text", "tx_payload": "x", "username": "sam"})
		}, 404, "credential_not_found", "passkey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.do(t)
			msg, _ := r.body["message"].(string)
			if r.status != tc.status || r.code() != tc.code || !strings.Contains(msg, tc.says) || strings.Count(strings.TrimSuffix(msg, "."), ". ") > 1 {
				t.Fatalf("got %v, want %d %s saying %q", r, tc.status, tc.code, tc.says)
			}
			if strings.Contains(msg, "webauthn") || strings.Contains(msg, "Error") {
				t.Errorf("the message shows a library's text: %q", msg)
			}
		})
	}
	// zed, registered after its refused name, and walt, made by /manage/users.
	if got := lf.userCount(); got != usersBefore+2 {
		t.Errorf("%d users after the refusals, want %d: a refused complete left a user", got, usersBefore+2)
	}
	for _, id := range []string{quinnID, rosaID} {
		list := lf.call("POST", "/credentials/list", tok("credentials.list", servicetoken.Options{}), map[string]any{"user_id": id})
		if creds, _ := list.body["credentials"].([]any); len(creds) != 1 {
			t.Errorf("a refused add left a credential: %v", list)
		}
	}
	// Both passkeys still sign in after all of that.
	for name, a := range map[string]*softauthn.Authenticator{"quinn": quinn, "rosa": rosa} {
		if r := lf.loginComplete(lf.loginBody(a, name)); r.status != 200 {
			t.Errorf("%s after the refusals: %v", name, r)
		}
	}
}

func lidCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// An unknown user's sign-in starts like a real one's: the same keys, one
// credential, the same decoy every time; a password user without passkeys
// gets one too. Nobody learns from init who has a passkey.
func TestLoginIDPasskeyDecoys(t *testing.T) { onEachDB(t, testLoginIDPasskeyDecoys) }

func testLoginIDPasskeyDecoys(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	lf.registerPasskey(lidAuthn(), "real")
	lf.mustCreate("pwonly", alicePassword)
	shape := func(username string) (map[string]any, []string, string) {
		t.Helper()
		r := lf.loginInit(username)
		if r.status != 200 {
			t.Fatalf("init %s: %v", username, r)
		}
		ap := lf.obj(r, "assertion_payload")
		allow, _ := ap["allowCredentials"].([]any)
		if len(allow) != 1 {
			t.Fatalf("init %s allows %v, want one credential", username, ap["allowCredentials"])
		}
		c := allow[0].(map[string]any)
		if _, ok := c["transports"].([]any); !ok || c["type"] != "public-key" {
			t.Fatalf("init %s: credential %v", username, c)
		}
		return ap, append(lidKeys(r.body), append(lidKeys(ap), lidKeys(c)...)...), c["id"].(string)
	}
	_, realKeys, realID := shape("real")
	for _, who := range []string{"nobody", "pwonly"} {
		ap, keys, id := shape(who)
		if !slices.Equal(keys, realKeys) || ap["rpId"] != lidRPID || len(fmt.Sprint(ap["challenge"])) != 43 {
			t.Errorf("%s: keys %v, want a real user's %v", who, keys, realKeys)
		}
		if _, _, again := shape(who); again != id || id == realID {
			t.Errorf("%s: decoy %s then %s (the real user's %s)", who, id, again, realID)
		}
		raw, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(raw) < 16 {
			t.Errorf("%s: decoy id %q is not a credential id's form", who, id)
		}
	}
	if _, _, a := shape("nobody"); func() string { _, _, b := shape("nobody2"); return b }() == a {
		t.Error("two unknown users share a decoy")
	}
	t.Run("a decoy's transports are a real passkey's", func(t *testing.T) {
		real, _ := lf.obj(lf.loginInit("real"), "assertion_payload")["allowCredentials"].([]any)
		decoy, _ := lf.obj(lf.loginInit("nobody"), "assertion_payload")["allowCredentials"].([]any)
		if fmt.Sprint(real[0].(map[string]any)["transports"]) != fmt.Sprint(decoy[0].(map[string]any)["transports"]) {
			t.Errorf("transports: real %v, decoy %v", real[0], decoy[0])
		}
	})
}

// Every guarded init route refuses a token without its scope; every
// fido2 and /tx route answers a realm without passkeys that they are off.
func TestLoginIDPasskeyGuards(t *testing.T) { onEachDB(t, testLoginIDPasskeyGuards) }

func testLoginIDPasskeyGuards(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	lf.registerPasskey(lidAuthn(), "gina")
	inits := map[string]string{
		"/register/fido2/init": "auth.register", "/authenticate/fido2/init": "auth.login", "/credentials/fido2/init/code": "credentials.add",
		"/credentials/fido2/init/force": "credentials.force", "/tx": "tx.create", "/tx/init": "tx.create",
	}
	body := map[string]any{"username": "gina", "tx_type": "text", "tx_payload": "x", "authentication_code": map[string]any{"code": "123456", "type": "short"}}
	for path, scope := range inits {
		others := slices.DeleteFunc(slices.Clone(allLoginIDScopes), func(s string) bool { return s == scope })
		if r := lf.call("POST", path, lf.st(others, servicetoken.Options{}), body); r.status != 403 || r.code() != "operation_not_allowed" || !strings.Contains(fmt.Sprint(r.body["message"]), scope) {
			t.Errorf("%s with every scope but %s: %v, want 403 naming the scope", path, scope, r)
		}
	}
	completes := []string{"/register/fido2/complete", "/authenticate/fido2/complete", "/credentials/fido2/complete", "/tx/complete"}
	for _, path := range completes {
		for _, token := range []string{lf.st(allLoginIDScopes, servicetoken.Options{}), lf.oauthToken("auth.login"), "garbage"} {
			if r := lf.call("POST", path, token, map[string]any{"client_id": "cred_a"}); r.status != 400 || !strings.Contains(fmt.Sprint(r.body["message"]), "takes no token") {
				t.Errorf("%s with a token: %v, want 400: the challenge is the proof", path, r)
			}
		}
		if r := lf.call("POST", path, "", map[string]any{"client_id": "cred_a"}); r.status != 400 || r.code() != "invalid_parameter" {
			t.Errorf("%s without its fields: %v, want 400", path, r)
		}
		if r := lf.call("POST", path, "", map[string]any{"username": "gina"}); r.status != 400 || !strings.Contains(fmt.Sprint(r.body["message"]), "client_id") {
			t.Errorf("%s without client_id: %v, want 400 asking for it", path, r)
		}
	}
	// Bad input to a complete is a clear 4xx; long or odd values on an
	// init are never a 5xx (a field the route does not read is ignored).
	long := strings.Repeat("ß", 300)
	huge := lidB64(make([]byte, 2000))
	for _, path := range completes {
		for _, b := range []string{
			`{`, `[]`, `null`, `{"client_id": "cred_a", "username": 5}`, `{"client_id": "cred_a", "attestation_payload": "x"}`,
			`{"client_id": "cred_a", "username": "` + long + `", "tx_id": "` + long + `"}`,
			`{"client_id": "cred_a", "username": "gi\u0000na", "challenge": "x", "tx_id": "x"}`,
			`{"client_id": "cred_a", "username": "gina", "user_id": "` + long + `", "attestation_payload": {"credential_uuid": "` + long + `", "credential_id": "` + huge + `", "challenge": "` + long + `", "client_data": "e30", "attestation_data": "oA"}}`,
			`{"client_id": "cred_a", "username": "gina", "assertion_payload": {"challenge": "` + long + `", "credential_id": "` + huge + `", "client_data": "e30", "authenticator_data": "AA", "signature": "AA"}}`,
			`{"client_id": "cred_a", "username": "gina", "tx_id": "` + long + `", "challenge": "x", "key_handle": "AQ", "client_data": "e30", "auth_data": "AA", "sign_data": "AA"}`,
			`{"client_id": "cred_a", "username": "gina", "assertion_payload": {"challenge": "x", "credential_id": "AQ", "client_data": "e30", "authenticator_data": "AA", "signature": "AA"}, "options": {"credential_name": "` + long + `"}}`,
		} {
			req, _ := http.NewRequest("POST", lf.url("/loginid"+path), strings.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s %.200s: %d %.300s, want a 4xx", path, b, resp.StatusCode, raw)
			}
		}
	}
	for path, scope := range inits {
		for _, b := range []map[string]any{
			{"username": long}, {"username": "gina", "options": map[string]any{"display_name": long}},
			{"username": "gina", "options": map[string]any{"display_name": strings.Repeat("d", 40000)}},
			{"user_id": long, "authentication_code": map[string]any{"code": long, "type": long}},
			{"username": "gina", "tx_type": "text", "tx_payload": "x", "nonce": long},
			{"username": "gina", "tx_id": long},
		} {
			if r := lf.call("POST", path, lf.st([]string{scope}, servicetoken.Options{}), b); r.status >= 500 {
				t.Errorf("%s with long or odd values: %d %.300s, want no 5xx", path, r.status, r.raw)
			}
		}
	}
	// Realm rl_other has no passkeys: every route says so, for a token of
	// its credential and for a tokenless call naming it.
	other := func(scope string) string {
		return lf.stOf("cred_other", lf.keyO, []string{scope}, servicetoken.Options{})
	}
	for path, scope := range inits {
		r := lf.call("POST", path, other(scope), body)
		if r.status != 403 || r.code() != "operation_not_allowed" || !strings.Contains(fmt.Sprint(r.body["message"]), "Passkeys are not enabled") {
			t.Errorf("%s in a realm without passkeys: %v, want 403 saying passkeys are off", path, r)
		}
	}
	for _, path := range append(completes, "/authenticate/fido2/init", "/register/fido2/init", "/tx/init") {
		r := lf.call("POST", path, "", map[string]any{"client_id": "cred_other", "username": "gina", "tx_id": "x"})
		if r.status != 403 || r.code() != "operation_not_allowed" || !strings.Contains(fmt.Sprint(r.body["message"]), "Passkeys are not enabled") {
			t.Errorf("%s tokenless in a realm without passkeys: %v, want 403 saying passkeys are off", path, r)
		}
	}
}
