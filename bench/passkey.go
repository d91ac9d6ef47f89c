package main

// The passkey scenario passkey_login: one LoginID passkey sign-in per
// iteration, with a software authenticator in the load generator (EC
// P-256, as a platform passkey): POST /loginid/authenticate/fido2/init
// (no service token: the route's token is optional) → the authenticator
// signs the challenge → POST /loginid/authenticate/fido2/complete. rps
// counts complete ceremonies; the latency percentiles are the complete
// step's (init runs in the worker's request builder, untimed but on the
// worker's time). No argon2id is involved: the server's cost is the ES256
// verify of the assertion, the ceremony's insert and take, the counter's
// update, and the user token's signature and row.
//
// Each worker registers its own user with a passkey before the warm-up
// (POST /loginid/register/fido2/init and /complete, usernames new on every
// run). The API credential is $DEMO_CREDENTIAL_ID; the relying party is
// the server's: the authenticator writes $DEMO_WEBAUTHN_ORIGIN (default
// http://localhost:PORT of -url) as its origin and rp id localhost, so the
// server must run with passkeys on and its issuer on localhost. Error keys:
// "init_<status>" for an init without a challenge, "no_jwt" for a complete
// answer without a token.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"

	"github.com/latchkey/latchkey/internal/softauthn"
)

func init() {
	scenarios = append(scenarios, scenario{
		name:      "passkey_login",
		setup:     passkeySetup,
		newWorker: newPasskeyWorker,
	})
}

// passkeyRun is what passkeySetup prepares.
var passkeyRun struct {
	credential, origin, rpID, prefix string
}

// passkeySetup checks that the server has the LoginID surface with
// passkeys on, by starting (and abandoning) one sign-in.
func passkeySetup(ctx context.Context, t *target, _ *fixture) error {
	id := os.Getenv("DEMO_CREDENTIAL_ID")
	if id == "" {
		return fmt.Errorf("%w: no API credential (set DEMO_CREDENTIAL_ID)", errWrongServer)
	}
	origin := os.Getenv("DEMO_WEBAUTHN_ORIGIN")
	if origin == "" {
		u, err := url.Parse(t.baseURL)
		if err != nil {
			return err
		}
		origin = "http://localhost:" + u.Port()
	}
	o, err := url.Parse(origin)
	if err != nil || o.Hostname() == "" {
		return fmt.Errorf("passkey_login: DEMO_WEBAUTHN_ORIGIN %q is not an origin", origin)
	}
	passkeyRun.credential, passkeyRun.origin, passkeyRun.rpID, passkeyRun.prefix = id, origin, o.Hostname(), t.baseURL+loginIDPrefix
	status, answer, err := passkeyPost(ctx, t, "/authenticate/fido2/init", map[string]any{"client_id": id, "username": "bench-nobody"})
	switch {
	case err != nil:
		return fmt.Errorf("POST %s/authenticate/fido2/init: %w", loginIDPrefix, err)
	case status == http.StatusNotFound && !bytes.Contains(answer, []byte(`"code"`)):
		return fmt.Errorf("%w: POST %s/authenticate/fido2/init answers 404: no LoginID surface there", errWrongServer, loginIDPrefix)
	case status != http.StatusOK:
		return fmt.Errorf("%w: POST %s/authenticate/fido2/init: HTTP %d: %s (are passkeys on for the credential's realm?)",
			errWrongServer, loginIDPrefix, status, snippet(answer))
	}
	return nil
}

func passkeyPost(ctx context.Context, t *target, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := passkeyRequest(ctx, path, b)
	if err != nil {
		return 0, nil, err
	}
	return do(t.client, req)
}

func passkeyRequest(ctx context.Context, path string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, passkeyRun.prefix+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Client-ID", passkeyRun.credential)
	return req, nil
}

type passkeyWorker struct {
	t        *target
	auth     *softauthn.Authenticator
	username string
}

// newPasskeyWorker registers the worker's user and passkey.
func newPasskeyWorker(ctx context.Context, t *target, _ *fixture) (*worker, error) {
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		return nil, err
	}
	w := &passkeyWorker{t: t, auth: softauthn.New(passkeyRun.rpID, passkeyRun.origin, softauthn.Options{}),
		username: "bench-pk-" + hex.EncodeToString(suffix)}
	status, answer, err := passkeyPost(ctx, t, "/register/fido2/init", map[string]any{"client_id": passkeyRun.credential, "username": w.username})
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("passkey_login: register/fido2/init: HTTP %d: %s %v", status, snippet(answer), err)
	}
	var init struct {
		Payload json.RawMessage `json:"attestation_payload"`
	}
	var ids struct {
		CredentialUUID string `json:"credential_uuid"`
		Challenge      string `json:"challenge"`
	}
	if err := json.Unmarshal(answer, &init); err != nil || json.Unmarshal(init.Payload, &ids) != nil {
		return nil, fmt.Errorf("passkey_login: register/fido2/init answered %s", snippet(answer))
	}
	att, err := w.auth.Register(init.Payload)
	if err != nil {
		return nil, fmt.Errorf("passkey_login: %w", err)
	}
	status, answer, err = passkeyPost(ctx, t, "/register/fido2/complete", map[string]any{
		"client_id": passkeyRun.credential, "username": w.username,
		"attestation_payload": map[string]string{"credential_uuid": ids.CredentialUUID, "challenge": ids.Challenge,
			"credential_id": b64(att.CredentialID), "client_data": b64(att.ClientDataJSON), "attestation_data": b64(att.AttestationObject)},
	})
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("passkey_login: register/fido2/complete: HTTP %d: %s %v", status, snippet(answer), err)
	}
	return &worker{request: w.request, check: checkPasskeyLogin}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// request runs the init step and the authenticator (untimed) and builds
// the complete step.
func (w *passkeyWorker) request(ctx context.Context) (*http.Request, string, error) {
	status, answer, err := passkeyPost(ctx, w.t, "/authenticate/fido2/init", map[string]any{"client_id": passkeyRun.credential, "username": w.username})
	if err != nil {
		return nil, "transport", nil
	}
	var init struct {
		Payload json.RawMessage `json:"assertion_payload"`
	}
	var ch struct {
		Challenge string `json:"challenge"`
	}
	if status != http.StatusOK || json.Unmarshal(answer, &init) != nil || json.Unmarshal(init.Payload, &ch) != nil || ch.Challenge == "" {
		return nil, "init_" + strconv.Itoa(status), nil
	}
	as, err := w.auth.Assert(init.Payload)
	if err != nil {
		return nil, "", fmt.Errorf("passkey_login: %w", err)
	}
	body, err := json.Marshal(map[string]any{
		"client_id": passkeyRun.credential, "username": w.username,
		"assertion_payload": map[string]string{"challenge": ch.Challenge, "credential_id": b64(as.CredentialID),
			"client_data": b64(as.ClientDataJSON), "authenticator_data": b64(as.AuthenticatorData),
			"signature": b64(as.Signature), "user_handle": b64(as.UserHandle)},
	})
	if err != nil {
		return nil, "", err
	}
	req, err := passkeyRequest(ctx, "/authenticate/fido2/complete", body)
	return req, "", err
}

func checkPasskeyLogin(body []byte) string {
	var r struct {
		JWT string `json:"jwt"`
	}
	if json.Unmarshal(body, &r) != nil || r.JWT == "" {
		return "no_jwt"
	}
	return ""
}
