package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// fakePasskeyLoginID serves LoginID's four fido2 routes the scenario
// calls on the real ceremonies (accounts.Passkeys on SQLite), so the
// scenario's payloads must be what a server verifies.
type fakePasskeyLoginID struct {
	t      *testing.T
	pk     *accounts.Passkeys
	realm  *config.Realm
	logins atomic.Int64
}

func (f *fakePasskeyLoginID) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b struct {
		ClientID string            `json:"client_id"`
		Username string            `json:"username"`
		Payload  map[string]string `json:"attestation_payload"`
		Asserted map[string]string `json:"assertion_payload"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.ClientID != "cred_demo" || r.Header.Get("X-Client-ID") != "cred_demo" {
		http.Error(w, `{"code":"invalid_parameter","message":"bad body"}`, http.StatusBadRequest)
		return
	}
	dec := func(m map[string]string, k string) []byte {
		v, _ := base64.RawURLEncoding.DecodeString(m[k])
		return v
	}
	ctx := r.Context()
	var out any
	var err error
	switch r.URL.Path {
	case "/loginid/register/fido2/init":
		var o *accounts.RegistrationOptions
		if o, err = f.pk.BeginRegistration(ctx, f.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyRegister, Username: b.Username}); err == nil {
			payload := map[string]any{"credential_uuid": o.CredentialUUID, "challenge": o.Options.Challenge.String(), "rp": o.Options.RelyingParty,
				"user": o.Options.User, "excludeCredentials": o.Options.CredentialExcludeList}
			out = map[string]any{"attestation_payload": payload}
		}
	case "/loginid/register/fido2/complete":
		var v *accounts.VerifiedRegistration
		if v, err = f.pk.VerifyRegistration(ctx, f.realm, accounts.RegistrationFinish{Purpose: accounts.CeremonyRegister, Username: b.Username,
			CredentialUUID: b.Payload["credential_uuid"], Challenge: b.Payload["challenge"], CredentialID: dec(b.Payload, "credential_id"),
			ClientDataJSON: dec(b.Payload, "client_data"), AttestationObject: dec(b.Payload, "attestation_data")}); err == nil {
			_, _, err = f.pk.InsertRegistration(ctx, v)
			out = map[string]string{"jwt": "registered"}
		}
	case "/loginid/authenticate/fido2/init":
		var o *accounts.AssertionOptions
		if o, err = f.pk.BeginLogin(ctx, f.realm, b.Username); err == nil {
			out = map[string]any{"assertion_payload": map[string]any{"challenge": o.Options.Challenge.String(), "rpId": o.Options.RelyingPartyID,
				"allowCredentials": o.Options.AllowedCredentials}}
		}
	case "/loginid/authenticate/fido2/complete":
		if _, err = f.pk.FinishLogin(ctx, f.realm, accounts.AssertionFinish{Purpose: accounts.CeremonyLogin, Username: b.Username,
			Challenge: b.Asserted["challenge"], CredentialID: dec(b.Asserted, "credential_id"), ClientDataJSON: dec(b.Asserted, "client_data"),
			AuthenticatorData: dec(b.Asserted, "authenticator_data"), Signature: dec(b.Asserted, "signature"),
			UserHandle: dec(b.Asserted, "user_handle")}); err == nil {
			f.logins.Add(1)
			out = map[string]string{"jwt": "signed-in"}
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "unauthorized", "message": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func TestPasskeyScenarioAgainstRealCeremonies(t *testing.T) {
	store := storagetest.OpenSQLite(t)
	svc := accounts.New(store, accounts.Options{})
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	origin := "http://localhost:" + u.Port()
	pk, err := accounts.NewPasskeys(svc, &config.Snapshot{WebAuthn: config.WebAuthn{RPID: "localhost", RPDisplayName: "bench",
		Origins: []string{origin}, UserVerification: config.UserVerificationPreferred, Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakePasskeyLoginID{t: t, pk: pk, realm: &config.Realm{ID: "rl_demo", Passkeys: true, PasswordMinLength: 10}}
	srv.Config.Handler = fake
	t.Setenv("DEMO_CREDENTIAL_ID", "cred_demo")
	t.Setenv("DEMO_WEBAUTHN_ORIGIN", "") // derived from -url: http://localhost:PORT
	vars := map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "s", "DEMO_USERNAME": "demo", "DEMO_PASSWORD": "p"}
	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-scenario", "passkey_login", "-concurrency", "2", "-duration", "100ms", "-warmup", "0", "-db", "fake"}
	if code := run(args, env(vars), &stdout, &stderr); code != 0 {
		t.Fatalf("run exit %d, stderr: %s", code, stderr.String())
	}
	var r result
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if r.Scenario != "passkey_login" || r.RPS <= 0 || len(r.Errors) != 0 || fake.logins.Load() == 0 {
		t.Errorf("result %+v after %d verified sign-ins: want sign-ins and no errors", r, fake.logins.Load())
	}
}

// TestPasskeySetupFindsTheWrongServer: a server without passkeys (or
// without the LoginID surface) is named as such.
func TestPasskeySetupFindsTheWrongServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"code":"operation_not_allowed","message":"Passkeys are not enabled for realm rl_demo."}`))
	}))
	defer srv.Close()
	t.Setenv("DEMO_CREDENTIAL_ID", "cred_demo")
	vars := map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "s", "DEMO_USERNAME": "demo", "DEMO_PASSWORD": "p"}
	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-scenario", "passkey_login", "-concurrency", "1", "-duration", "50ms", "-warmup", "0", "-db", "fake"}
	if code := run(args, env(vars), &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "passkeys on") {
		t.Fatalf("run exit %d, stderr %q: want a failure that says passkeys must be on", code, stderr.String())
	}
}
