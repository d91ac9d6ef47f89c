package server_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/softauthn"
	"github.com/latchkey/latchkey/sdk/servicetoken"
)

// The LoginID passkey (fido2) and transaction (/tx) routes on a real
// server, driven by the software authenticator: every route end to end,
// the refusals an attacker would try, and two replicas on one MariaDB.
// newLoginIDFixture's realm rl_test has passkeys on, relying party
// localhost; rl_other (cred_other) has them off.

const (
	lidRPID   = "localhost"
	lidOrigin = "http://localhost:8080"
)

func lidAuthn() *softauthn.Authenticator {
	return softauthn.New(lidRPID, lidOrigin, softauthn.Options{})
}

func lidB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// obj is r.body[key] as an object; it fails the test when it is not one.
func (lf *lidFixture) obj(r lidResp, key string) map[string]any {
	lf.t.Helper()
	m, ok := r.body[key].(map[string]any)
	if !ok {
		lf.t.Fatalf("%s is not an object in %v", key, r)
	}
	return m
}

// attest answers a registration's attestation_payload with a, as the web
// SDK posts it to a complete route.
func (lf *lidFixture) attest(a *softauthn.Authenticator, payload map[string]any) map[string]any {
	lf.t.Helper()
	att, err := a.Register(mustJSON(payload))
	if err != nil {
		lf.t.Fatalf("the authenticator refused the creation options %v: %v", payload, err)
	}
	return map[string]any{"credential_uuid": payload["credential_uuid"], "credential_id": lidB64(att.CredentialID),
		"challenge": payload["challenge"], "client_data": lidB64(att.ClientDataJSON), "attestation_data": lidB64(att.AttestationObject)}
}

// assertWith answers request options (an assertion_payload or a
// transaction's assertion_options) with a.
func (lf *lidFixture) assertWith(a *softauthn.Authenticator, options map[string]any) *softauthn.Assertion {
	lf.t.Helper()
	as, err := a.Assert(mustJSON(options))
	if err != nil {
		lf.t.Fatalf("the authenticator refused the request options %v: %v", options, err)
	}
	return as
}

// assertion is the assertion_payload of authenticate/fido2/complete.
func lidAssertion(challenge any, as *softauthn.Assertion) map[string]any {
	return map[string]any{"challenge": challenge, "credential_id": lidB64(as.CredentialID), "client_data": lidB64(as.ClientDataJSON),
		"authenticator_data": lidB64(as.AuthenticatorData), "signature": lidB64(as.Signature), "user_handle": lidB64(as.UserHandle)}
}

// txAssertion is the body of /tx/complete.
func lidTxAssertion(txID, username string, challenge any, as *softauthn.Assertion) map[string]any {
	return map[string]any{"client_id": "cred_a", "tx_id": txID, "username": username, "challenge": challenge,
		"key_handle": lidB64(as.CredentialID), "client_data": lidB64(as.ClientDataJSON), "auth_data": lidB64(as.AuthenticatorData), "sign_data": lidB64(as.Signature)}
}

// registerInit starts registering username with a service token.
func (lf *lidFixture) registerInit(username string) lidResp {
	lf.t.Helper()
	return lf.call("POST", "/register/fido2/init", lf.st([]string{"auth.register"}, servicetoken.Options{Username: username}),
		map[string]any{"client_id": "cred_a", "username": username})
}

// registerPasskey registers a new user with a passkey of a; it answers the
// complete's AuthenticationResponse.
func (lf *lidFixture) registerPasskey(a *softauthn.Authenticator, username string) lidResp {
	lf.t.Helper()
	r := lf.registerInit(username)
	if r.status != 200 {
		lf.t.Fatalf("register/fido2/init %s: %v", username, r)
	}
	done := lf.call("POST", "/register/fido2/complete", "", map[string]any{"client_id": "cred_a", "username": username,
		"attestation_payload": lf.attest(a, lf.obj(r, "attestation_payload"))})
	if done.status != 200 {
		lf.t.Fatalf("register/fido2/complete %s: %v", username, done)
	}
	return done
}

// loginInit starts a passkey sign-in of username.
func (lf *lidFixture) loginInit(username string) lidResp {
	lf.t.Helper()
	return lf.call("POST", "/authenticate/fido2/init", lf.st([]string{"auth.login"}, servicetoken.Options{}),
		map[string]any{"client_id": "cred_a", "username": username})
}

// loginBody starts a sign-in of username and answers it with a: the body
// of authenticate/fido2/complete, not yet sent.
func (lf *lidFixture) loginBody(a *softauthn.Authenticator, username string) map[string]any {
	lf.t.Helper()
	r := lf.loginInit(username)
	if r.status != 200 {
		lf.t.Fatalf("authenticate/fido2/init %s: %v", username, r)
	}
	opts := lf.obj(r, "assertion_payload")
	return map[string]any{"client_id": "cred_a", "username": username, "assertion_payload": lidAssertion(opts["challenge"], lf.assertWith(a, opts))}
}

func (lf *lidFixture) loginComplete(body map[string]any) lidResp {
	lf.t.Helper()
	return lf.call("POST", "/authenticate/fido2/complete", "", body)
}

// verifyWithCerts verifies an ES256 JWT as LoginID's SDKs do: the PEM of
// GET /certs?kid=<its kid>. It returns the header and the claims.
func (lf *lidFixture) verifyWithCerts(token string) (map[string]any, map[string]any) {
	lf.t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		lf.t.Fatalf("not a JWT: %q", token)
	}
	var hdr map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(raw, &hdr); err != nil || hdr["alg"] != "ES256" || hdr["kid"] == "" || hdr["kid"] == nil {
		lf.t.Fatalf("JWT header %s", raw)
	}
	cert := lf.call("GET", "/certs?kid="+fmt.Sprint(hdr["kid"]), "", nil)
	blk, _ := pem.Decode(cert.raw)
	if cert.status != 200 || blk == nil {
		lf.t.Fatalf("certs: %v", cert)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		lf.t.Fatal(err)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		lf.t.Fatal(err)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		lf.t.Fatalf("the JWT does not verify with the key of /certs: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		lf.t.Fatal(err)
	}
	return hdr, claims
}

// checkPasskeyResponse checks a passkey's AuthenticationResponse: the
// fido2 credential, and a user token that verifies against /certs.
func lidCheckPasskeyResponse(t *testing.T, lf *lidFixture, r lidResp, username, credUUID string) (userID string) {
	t.Helper()
	user, _ := r.body["user"].(map[string]any)
	cred, _ := r.body["credential"].(map[string]any)
	cl, _ := r.body["client"].(map[string]any)
	userID, _ = user["id"].(string)
	if r.status != 200 || r.body["is_authenticated"] != true || user["username"] != username || user["namespace_id"] != "rl_test" ||
		!strings.HasPrefix(userID, "usr_") || cl["id"] != "cred_a" || cred["type"] != "fido2" || cred["uuid"] == "" ||
		(credUUID != "" && cred["uuid"] != credUUID) || cred["name"] == "" {
		t.Fatalf("passkey AuthenticationResponse %v", r)
	}
	_, claims := lf.verifyWithCerts(r.body["jwt"].(string))
	if claims["sub"] != userID || claims["udata"] != username || claims["client_id"] != "app" {
		t.Fatalf("user JWT claims %v", claims)
	}
	if !lf.active(r.body["jwt"].(string)) {
		t.Fatal("the passkey's user token must introspect as active")
	}
	return userID
}

func lidKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Every passkey and transaction route, end to end, as LoginID's SDKs call
// them.
func TestLoginIDPasskeysFlow(t *testing.T) { onEachDB(t, testLoginIDPasskeysFlow) }

func testLoginIDPasskeysFlow(t *testing.T, o fixtureOpts) {
	lf := newLoginIDFixture(t, o)
	tok := func(scope string, opt servicetoken.Options) string { return lf.st([]string{scope}, opt) }
	phone := lidAuthn()

	// Register: init answers the creation options with the credential's uuid.
	init := lf.call("POST", "/register/fido2/init", tok("auth.register", servicetoken.Options{Username: "pat"}),
		map[string]any{"client_id": "cred_a", "username": "pat", "options": map[string]any{"display_name": "Pat Q.", "roaming_authenticator": true}},
		"X-Client-ID", "cred_a")
	if init.status != 200 {
		t.Fatalf("register/fido2/init: %v", init)
	}
	att := lf.obj(init, "attestation_payload")
	rp, _ := att["rp"].(map[string]any)
	user, _ := att["user"].(map[string]any)
	sel, _ := att["authenticatorSelection"].(map[string]any)
	if want := []string{"attestation", "authenticatorSelection", "challenge", "credential_uuid", "excludeCredentials", "pubKeyCredParams", "rp", "timeout", "user"}; !slices.Equal(lidKeys(att), want) {
		t.Fatalf("attestation_payload keys %v, want %v", lidKeys(att), want)
	}
	uid, _ := base64.RawURLEncoding.DecodeString(fmt.Sprint(user["id"]))
	if len(fmt.Sprint(att["credential_uuid"])) != 36 || len(fmt.Sprint(att["challenge"])) != 43 || rp["id"] != lidRPID || rp["name"] == "" ||
		!strings.HasPrefix(string(uid), "usr_") || user["name"] != "pat" || user["displayName"] != "Pat Q." || att["attestation"] != "none" ||
		sel["authenticatorAttachment"] != "cross-platform" || att["timeout"] != float64(120000) || len(att["excludeCredentials"].([]any)) != 0 ||
		len(att["pubKeyCredParams"].([]any)) == 0 {
		t.Fatalf("attestation_payload %s", init.raw)
	}
	reg := lf.call("POST", "/register/fido2/complete", "", map[string]any{"client_id": "cred_a", "username": "pat",
		"attestation_payload": lf.attest(phone, att), "options": map[string]any{"credential_name": "Pat's phone"}}, "X-Client-ID", "cred_a")
	patID := lidCheckPasskeyResponse(t, lf, reg, "pat", fmt.Sprint(att["credential_uuid"]))
	if patID != string(uid) || reg.body["credential"].(map[string]any)["name"] != "Pat's phone" {
		t.Fatalf("registered %v (user handle %s)", reg, uid)
	}
	list := lf.call("GET", "/credentials?username=pat", tok("credentials.list", servicetoken.Options{}), nil)
	creds, _ := list.body["credentials"].([]any)
	if list.status != 200 || len(creds) != 1 || creds[0].(map[string]any)["type"] != "fido2" || creds[0].(map[string]any)["uuid"] != att["credential_uuid"] ||
		creds[0].(map[string]any)["status"] != "active" {
		t.Fatalf("the new user's credentials: %v", list)
	}

	// Sign in.
	li := lf.loginInit("PAT")
	ap := lf.obj(li, "assertion_payload")
	allow, _ := ap["allowCredentials"].([]any)
	if want := []string{"allowCredentials", "challenge", "rpId", "timeout", "userVerification"}; li.status != 200 || !slices.Equal(lidKeys(ap), want) ||
		ap["rpId"] != lidRPID || len(allow) != 1 || allow[0].(map[string]any)["type"] != "public-key" || ap["userVerification"] != "preferred" {
		t.Fatalf("authenticate/fido2/init: %v", li)
	}
	as := lf.assertWith(phone, ap)
	if lidB64(as.CredentialID) != allow[0].(map[string]any)["id"] {
		t.Fatalf("allowCredentials %v is not the registered passkey", allow)
	}
	login := lf.loginComplete(map[string]any{"client_id": "cred_a", "username": "pat", "assertion_payload": lidAssertion(ap["challenge"], as)})
	lidCheckPasskeyResponse(t, lf, login, "pat", fmt.Sprint(att["credential_uuid"]))
	// Without a token on init too (client_id names the credential).
	if r := lf.call("POST", "/authenticate/fido2/init", "", map[string]any{"client_id": "cred_a", "username": "pat"}); r.status != 200 {
		t.Fatalf("tokenless authenticate/fido2/init: %v", r)
	}

	// Add a passkey with an add_credential code, generated and authorized
	// through the codes routes.
	gen := lf.call("POST", "/codes/short/generate", tok("codes.generate", servicetoken.Options{}), map[string]any{"user_id": patID, "purpose": "add_credential"})
	code, _ := gen.body["code"].(string)
	if gen.status != 200 || gen.body["is_authorized"] != false {
		t.Fatalf("generate: %v", gen)
	}
	if r := lf.call("POST", "/codes/short/authorize", tok("codes.authorize", servicetoken.Options{}), map[string]any{"user_id": patID, "purpose": "add_credential", "code": code}); r.status != 200 {
		t.Fatalf("authorize: %v", r)
	}
	laptop := lidAuthn()
	byCode := lf.call("POST", "/credentials/fido2/init/code", tok("credentials.add", servicetoken.Options{}),
		map[string]any{"client_id": "cred_a", "username": "pat", "authentication_code": map[string]any{"code": code, "type": "short"}})
	if byCode.status != 200 {
		t.Fatalf("credentials/fido2/init/code: %v", byCode)
	}
	ca := lf.obj(byCode, "attestation_payload")
	if ex, _ := ca["excludeCredentials"].([]any); len(ex) != 1 || ex[0].(map[string]any)["id"] != lidB64(as.CredentialID) {
		t.Fatalf("the add excludes %v, want the phone's passkey", ca["excludeCredentials"])
	}
	// The code is used up: a second add with it is refused.
	if r := lf.call("POST", "/credentials/fido2/init/code", tok("credentials.add", servicetoken.Options{}),
		map[string]any{"username": "pat", "authentication_code": map[string]any{"code": code, "type": "short"}}); r.status != 400 || r.code() != "invalid_code" {
		t.Fatalf("the code used twice: %v", r)
	}
	added := lf.call("POST", "/credentials/fido2/complete", "", map[string]any{"client_id": "cred_a", "username": "pat",
		"attestation_payload": lf.attest(laptop, ca), "options": map[string]any{"credential_name": "Laptop"}})
	lidCheckPasskeyResponse(t, lf, added, "pat", fmt.Sprint(ca["credential_uuid"]))

	// And by force, as the SDKs' initAddCredentialWithoutCode sends it.
	key := lidAuthn()
	forced := lf.call("POST", "/credentials/fido2/init/force", tok("credentials.force_add", servicetoken.Options{}), map[string]any{"client_id": "cred_a", "user_id": patID})
	if forced.status != 200 {
		t.Fatalf("credentials/fido2/init/force: %v", forced)
	}
	fa := lf.obj(forced, "attestation_payload")
	if r := lf.call("POST", "/credentials/fido2/complete", "", map[string]any{"client_id": "cred_a", "user_id": patID,
		"attestation_payload": lf.attest(key, fa)}); r.status != 200 || r.body["credential"].(map[string]any)["name"] != "Passkey" {
		t.Fatalf("credentials/fido2/complete (forced): %v", r)
	}
	list = lf.call("POST", "/credentials/list", tok("credentials.list", servicetoken.Options{}), map[string]any{"user_id": patID})
	if creds, _ = list.body["credentials"].([]any); len(creds) != 3 {
		t.Fatalf("three passkeys: %v", list)
	}

	// Rename and revoke the laptop's passkey; it no longer signs in.
	laptopUUID := ca["credential_uuid"]
	if r := lf.call("POST", "/credentials/rename", tok("credentials.rename", servicetoken.Options{}), map[string]any{"user_id": patID,
		"credential": map[string]any{"uuid": laptopUUID, "name": "Old laptop"}}); r.status != 200 || r.body["credential"].(map[string]any)["name"] != "Old laptop" {
		t.Fatalf("rename the passkey: %v", r)
	}
	if body := lf.loginBody(laptop, "pat"); lf.loginComplete(body).status != 200 {
		t.Fatal("the laptop's passkey signs in before it is revoked")
	}
	if r := lf.call("POST", "/credentials/revoke", tok("credentials.revoke", servicetoken.Options{}), map[string]any{"user_id": patID,
		"credential": map[string]any{"uuid": laptopUUID}}); r.status != 200 || r.body["credential"].(map[string]any)["status"] != "revoked" {
		t.Fatalf("revoke the passkey: %v", r)
	}
	li = lf.loginInit("pat")
	ap = lf.obj(li, "assertion_payload")
	if allow, _ := ap["allowCredentials"].([]any); len(allow) != 2 {
		t.Fatalf("after the revocation the sign-in allows %v, want the two others", allow)
	}
	delete(ap, "allowCredentials") // the laptop still holds its key and answers anyway
	if r := lf.loginComplete(map[string]any{"client_id": "cred_a", "username": "pat", "assertion_payload": lidAssertion(ap["challenge"], lf.assertWith(laptop, ap))}); r.status != 401 || r.code() != "unauthorized" {
		t.Fatalf("a revoked passkey signed in: %v", r)
	}

	// A transaction: created with a token bound to its payload, confirmed
	// with a passkey, answered with an ES256 JWT that carries its hash.
	const payload = "Pay 10 EUR to Bob"
	created := lf.call("POST", "/tx", tok("tx.create", servicetoken.Options{PayloadHash: servicetoken.PayloadHash(payload)}),
		map[string]any{"client_id": "cred_a", "tx_type": "text", "tx_payload": payload, "nonce": "n-42", "username": "pat"}, "X-Client-ID", "cred_a")
	txID, _ := created.body["id"].(string)
	if created.status != 200 || txID == "" {
		t.Fatalf("POST /tx: %v", created)
	}
	ti := lf.call("POST", "/tx/init", "", map[string]any{"client_id": "cred_a", "username": "pat", "tx_id": txID})
	if ti.status != 200 || ti.body["tx_id"] != txID {
		t.Fatalf("POST /tx/init: %v", ti)
	}
	ao := lf.obj(ti, "assertion_options")
	if ao["rpId"] != lidRPID || len(ao["allowCredentials"].([]any)) != 2 {
		t.Fatalf("assertion_options %v", ao)
	}
	before := time.Now().Unix()
	done := lf.call("POST", "/tx/complete", "", lidTxAssertion(txID, "pat", ao["challenge"], lf.assertWith(phone, ao)))
	if done.status != 200 {
		t.Fatalf("POST /tx/complete: %v", done)
	}
	lidCheckTxJWT(t, lf, done.body["jwt"].(string), patID, "pat", fmt.Sprint(att["credential_uuid"]), payload, "n-42", ao["challenge"], before)

	// The inline form: /tx/init creates the transaction (with a tx.create
	// token) and starts its confirmation at once.
	const payload2 = "Close the account"
	ti = lf.call("POST", "/tx/init", tok("tx.create", servicetoken.Options{Username: "pat", PayloadHash: servicetoken.PayloadHash(payload2)}),
		map[string]any{"client_id": "cred_a", "username": "pat", "tx_type": "text", "tx_payload": payload2, "nonce": "n-43"})
	txID2, _ := ti.body["tx_id"].(string)
	if ti.status != 200 || txID2 == "" || txID2 == txID {
		t.Fatalf("POST /tx/init inline: %v", ti)
	}
	ao = lf.obj(ti, "assertion_options")
	done = lf.call("POST", "/tx/complete", "", lidTxAssertion(txID2, "pat", ao["challenge"], lf.assertWith(key, ao)))
	if done.status != 200 {
		t.Fatalf("POST /tx/complete (inline): %v", done)
	}
	lidCheckTxJWT(t, lf, done.body["jwt"].(string), patID, "pat", fmt.Sprint(fa["credential_uuid"]), payload2, "n-43", ao["challenge"], before)
}

// checkTxJWT checks a transaction's JWT: ES256 with the kid of /certs, and
// every claim, tx_hash as LoginID's verifyTransaction recomputes it.
func lidCheckTxJWT(t *testing.T, lf *lidFixture, jwt, userID, username, credUUID, payload, nonce string, challenge any, notBefore int64) {
	t.Helper()
	hdr, c := lf.verifyWithCerts(jwt)
	if hdr["typ"] != "JWT" {
		t.Errorf("tx JWT header %v", hdr)
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	serverNonce, _ := c["server_nonce"].(string)
	sum := sha256.Sum256([]byte(payload + nonce + serverNonce))
	if c["iss"] != lf.snap.Issuer || c["sub"] != userID || c["nid"] != "rl_test" || c["aud"] != credUUID || c["username"] != username ||
		c["action"] != "tx" || int64(iat) < notBefore || int64(iat) > time.Now().Unix()+1 || exp-iat != 300 ||
		c["nonce"] != nonce || len(serverNonce) < 32 || c["tx_hash"] != lidB64(sum[:]) || challenge != c["tx_hash"] {
		t.Fatalf("tx JWT claims %v (challenge %v, tx_hash want %s)", c, challenge, lidB64(sum[:]))
	}
	if want := []string{"action", "aud", "exp", "iat", "iss", "nid", "nonce", "server_nonce", "sub", "tx_hash", "username"}; !slices.Equal(lidKeys(c), want) {
		t.Errorf("tx JWT claims %v, want exactly %v", lidKeys(c), want)
	}
}

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

// startTx creates a transaction of username and starts its confirmation.
func (lf *lidFixture) startTx(t *testing.T, username, payload string) (string, map[string]any) {
	t.Helper()
	r := lf.call("POST", "/tx/init", lf.st([]string{"tx.create"}, servicetoken.Options{PayloadHash: servicetoken.PayloadHash(payload)}),
		map[string]any{"username": username, "tx_type": "text", "tx_payload": payload, "nonce": randomID()})
	if r.status != 200 {
		t.Fatalf("POST /tx/init: %v", r)
	}
	return r.body["tx_id"].(string), lf.obj(r, "assertion_options")
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

// Two replicas on one MariaDB: a ceremony started on one finishes on the
// other, and one completion posted to both at once succeeds once — a
// sign-in, a registration and a transaction's confirmation.
func TestLoginIDPasskeyReplicas(t *testing.T) {
	a := newLoginIDFixture(t, fixtureOpts{mysql: true})
	b := a.replica(t)
	phone := lidAuthn()

	// Registration started on a, finished on b.
	r := a.registerInit("hana")
	done := b.call("POST", "/register/fido2/complete", "", map[string]any{"client_id": "cred_a", "username": "hana",
		"attestation_payload": b.attest(phone, a.obj(r, "attestation_payload"))})
	hanaID := lidCheckPasskeyResponse(t, b, done, "hana", "")

	// A sign-in started on b, its completion sent 10 times to both.
	body := b.loginBody(phone, "hana")
	got := parallel(10, func(i int) (lidResp, error) {
		replica := a
		if i%2 == 1 {
			replica = b
		}
		return replica.send("POST", "/authenticate/fido2/complete", "", body)
	})
	if got[200] != 1 || got[401] != 9 {
		t.Fatalf("one sign-in completed on two replicas: %v, want one 200 and nine 401", got)
	}

	// One registration's completion sent to both: one user, one passkey.
	r = b.registerInit("ines")
	reg := map[string]any{"client_id": "cred_a", "username": "ines", "attestation_payload": a.attest(lidAuthn(), b.obj(r, "attestation_payload"))}
	got = parallel(6, func(i int) (lidResp, error) {
		replica := a
		if i%2 == 1 {
			replica = b
		}
		return replica.send("POST", "/register/fido2/complete", "", reg)
	})
	if got[200] != 1 || got[401] != 5 {
		t.Fatalf("one registration completed on two replicas: %v, want one 200 and five 401", got)
	}

	// A transaction started on a, confirmed on both at once: one JWT.
	txID, ao := a.startTx(t, "hana", "Pay 5 EUR")
	tx := lidTxAssertion(txID, "hana", ao["challenge"], a.assertWith(phone, ao))
	var jwts []string
	results := lidParallelBodies(6, func(i int) (lidResp, error) {
		replica := a
		if i%2 == 0 {
			replica = b
		}
		return replica.send("POST", "/tx/complete", "", tx)
	})
	for _, res := range results {
		if res.status == 200 {
			jwts = append(jwts, res.body["jwt"].(string))
		} else if res.status != 401 {
			t.Errorf("a concurrent confirmation: %v", res)
		}
	}
	if len(jwts) != 1 {
		t.Fatalf("%d confirmations of one transaction on two replicas, want 1", len(jwts))
	}
	if _, c := a.verifyWithCerts(jwts[0]); c["sub"] != hanaID {
		t.Fatalf("tx JWT %v", c)
	}
}

// parallelBodies runs n requests at once and returns their answers.
func lidParallelBodies(n int, req func(i int) (lidResp, error)) []lidResp {
	out := make([]lidResp, n)
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan int)
	for i := range n {
		go func() {
			<-start
			out[i], errs[i] = req(i)
			done <- i
		}()
	}
	close(start)
	for range n {
		<-done
	}
	if err := errors.Join(errs...); err != nil {
		out = append(out, lidResp{status: -1, raw: []byte(err.Error())})
	}
	return out
}
