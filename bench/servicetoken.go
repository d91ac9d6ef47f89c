package main

// The LoginID scenario service_token: POST /loginid/manage/users/retrieve
// of the demo user, each request with a fresh API service token that the
// load generator signs (ES256, a new nonce, scope users.retrieve) as
// LoginID's server SDKs do — the cost on the server is one ES256 verify,
// one nonce INSERT and one user read. The credential comes from
// $DEMO_CREDENTIAL_ID and $DEMO_CREDENTIAL_KEY (the development defaults'
// cred_demo and the path of its private key), the user from -username
// ($DEMO_USERNAME); with -scenario all the scenario is skipped without them.
// Error keys: the HTTP status, and "wrong_user" for a 200 that is not the
// user asked for.

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"github.com/latchkey/latchkey/pemkey"
	"github.com/latchkey/latchkey/sdk/servicetoken"
)

func init() {
	scenarios = append(scenarios, scenario{
		// A guarded LoginID route with a fresh service token per request.
		name:      "service_token",
		setup:     serviceTokenSetup,
		newWorker: newServiceTokenWorker,
	})
}

const loginIDPrefix = "/loginid"

// serviceTokenRun is what serviceTokenSetup prepares.
var serviceTokenRun struct {
	credential string
	key        crypto.Signer
	username   string
	body       []byte
}

// serviceTokenSetup reads the credential and checks, writing nothing but a
// used nonce, that the server has the LoginID surface and knows the user.
func serviceTokenSetup(ctx context.Context, t *target, f *fixture) error {
	id, keyFile := os.Getenv("DEMO_CREDENTIAL_ID"), os.Getenv("DEMO_CREDENTIAL_KEY")
	if id == "" || keyFile == "" {
		return fmt.Errorf("%w: no API credential (set DEMO_CREDENTIAL_ID and DEMO_CREDENTIAL_KEY)", errWrongServer)
	}
	if t.username == "" {
		return fmt.Errorf("%w: no user (set -username or DEMO_USERNAME)", errWrongServer)
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("service_token: %w", err)
	}
	key, err := pemkey.ParsePrivate(data)
	if err != nil {
		return fmt.Errorf("service_token: %s: %w", keyFile, err)
	}
	body, _ := json.Marshal(map[string]string{"username": t.username})
	serviceTokenRun.credential, serviceTokenRun.key, serviceTokenRun.username, serviceTokenRun.body = id, key, t.username, body
	req, err := serviceTokenRequest(ctx, t)
	if err != nil {
		return err
	}
	status, answer, err := do(t.client, req)
	switch {
	case err != nil:
		return fmt.Errorf("POST %s/manage/users/retrieve: %w", loginIDPrefix, err)
	case status == http.StatusNotFound && !bytes.Contains(answer, []byte(`"code"`)):
		return fmt.Errorf("%w: POST %s/manage/users/retrieve answers 404: no LoginID surface there", errWrongServer, loginIDPrefix)
	case status != http.StatusOK:
		return fmt.Errorf("retrieve %q with a service token: HTTP %d: %s", t.username, status, snippet(answer))
	}
	return nil
}

// serviceTokenRequest signs a new token and builds the retrieve.
func serviceTokenRequest(ctx context.Context, t *target) (*http.Request, error) {
	tok, err := servicetoken.Sign(serviceTokenRun.credential, serviceTokenRun.key, []string{"users.retrieve"},
		servicetoken.Options{Username: serviceTokenRun.username})
	if err != nil {
		return nil, fmt.Errorf("service_token: sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.baseURL+loginIDPrefix+"/manage/users/retrieve", bytes.NewReader(serviceTokenRun.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Client-ID", serviceTokenRun.credential)
	return req, nil
}

func newServiceTokenWorker(_ context.Context, t *target, _ *fixture) (*worker, error) {
	return &worker{
		request: func(ctx context.Context) (*http.Request, string, error) {
			req, err := serviceTokenRequest(ctx, t)
			return req, "", err
		},
		check: func(body []byte) string {
			var u struct {
				Username string `json:"username"`
			}
			if json.Unmarshal(body, &u) != nil || u.Username != serviceTokenRun.username {
				return "wrong_user"
			}
			return ""
		},
	}, nil
}
