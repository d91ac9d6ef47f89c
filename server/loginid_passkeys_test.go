package server_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
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
