package accounts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/internal/softauthn"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

const (
	testRPID   = "localhost"
	testOrigin = "http://localhost:8080"
)

func passkeySnapshot(uv string) *config.Snapshot {
	return &config.Snapshot{WebAuthn: config.WebAuthn{RPID: testRPID, RPDisplayName: "Test", Origins: []string{testOrigin},
		UserVerification: uv, Timeout: 2 * time.Minute}}
}

type passkeyFixture struct {
	*fixture
	pk *accounts.Passkeys
}

func newPasskeyFixture(t *testing.T, f *fixture, uv string) *passkeyFixture {
	t.Helper()
	f.realm.Passkeys = true
	pk, err := accounts.NewPasskeys(f.svc, passkeySnapshot(uv))
	if err != nil {
		t.Fatal(err)
	}
	return &passkeyFixture{fixture: f, pk: pk}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register runs a whole registration of a new user with auth.
func (f *passkeyFixture) register(t *testing.T, auth *softauthn.Authenticator, username string) (*accounts.User, *accounts.Credential) {
	t.Helper()
	opts, err := f.pk.BeginRegistration(t.Context(), f.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyRegister, Username: username})
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	att, err := auth.Register(mustJSON(t, opts.Options))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.pk.VerifyRegistration(t.Context(), f.realm, accounts.RegistrationFinish{Purpose: accounts.CeremonyRegister,
		Username: username, CredentialUUID: opts.CredentialUUID, Challenge: opts.Options.Challenge.String(),
		CredentialID: att.CredentialID, ClientDataJSON: att.ClientDataJSON, AttestationObject: att.AttestationObject})
	if err != nil {
		t.Fatalf("VerifyRegistration: %v", err)
	}
	var u *accounts.User
	var c *accounts.Credential
	if err := f.store.InTx(t.Context(), func(ctx context.Context) error {
		u, c, err = f.pk.InsertRegistration(ctx, v)
		return err
	}); err != nil {
		t.Fatalf("InsertRegistration: %v", err)
	}
	return u, c
}

// assertion starts a sign-in of username and answers it with auth.
func (f *passkeyFixture) assertion(t *testing.T, auth *softauthn.Authenticator, username string) accounts.AssertionFinish {
	t.Helper()
	opts, err := f.pk.BeginLogin(t.Context(), f.realm, username)
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	as, err := auth.Assert(mustJSON(t, opts.Options))
	if err != nil {
		t.Fatalf("Assert: %v", err)
	}
	purpose := accounts.CeremonyLogin
	if username == "" {
		purpose = accounts.CeremonyDiscoverable
	}
	return finishOf(purpose, username, opts.Options.Challenge.String(), as)
}

func finishOf(purpose, username, challenge string, as *softauthn.Assertion) accounts.AssertionFinish {
	return accounts.AssertionFinish{Purpose: purpose, Username: username, Challenge: challenge, CredentialID: as.CredentialID,
		ClientDataJSON: as.ClientDataJSON, AuthenticatorData: as.AuthenticatorData, Signature: as.Signature, UserHandle: as.UserHandle}
}

func TestPasskeyRegisterAndSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, f0 *fixture) {
		f := newPasskeyFixture(t, f0, config.UserVerificationPreferred)
		auth := softauthn.New(testRPID, testOrigin, softauthn.Options{})
		u, cred := f.register(t, auth, "dana")
		if u.Username != "dana" || cred.Type != accounts.CredentialFIDO2 || cred.Name != accounts.PasskeyCredentialName || cred.Status != accounts.CredentialActive {
			t.Fatalf("registered %+v with %+v", u, cred)
		}
		for _, username := range []string{"dana", "DANA", ""} {
			got, err := f.pk.FinishLogin(t.Context(), f.realm, f.assertion(t, auth, username))
			if err != nil {
				t.Fatalf("FinishLogin(%q): %v", username, err)
			}
			if got.User.ID != u.ID || got.Credential.UUID != cred.UUID || !got.UserVerified {
				t.Fatalf("FinishLogin(%q) = %+v", username, got)
			}
		}
		creds, err := f.svc.Credentials(t.Context(), f.realm.ID, u.ID)
		if err != nil || len(creds) != 1 || creds[0].UUID != cred.UUID {
			t.Fatalf("Credentials = %+v, %v; want the passkey only (the user has no password)", creds, err)
		}
		// The username is taken now.
		if _, err := f.pk.BeginRegistration(t.Context(), f.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyRegister, Username: "Dana"}); !errors.Is(err, accounts.ErrUsernameTaken) {
			t.Fatalf("BeginRegistration(taken) = %v, want ErrUsernameTaken", err)
		}
	})
}

func TestPasskeyAddToExistingUser(t *testing.T) {
	eachStore(t, func(t *testing.T, f0 *fixture) {
		f := newPasskeyFixture(t, f0, config.UserVerificationPreferred)
		u := f.create(t, accounts.NewUser{Username: "erin", Password: goodPassword})
		auth := softauthn.New(testRPID, testOrigin, softauthn.Options{})
		opts, err := f.pk.BeginRegistration(t.Context(), f.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyAddPasskey, User: u})
		if err != nil {
			t.Fatal(err)
		}
		att, err := auth.Register(mustJSON(t, opts.Options))
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.pk.VerifyRegistration(t.Context(), f.realm, accounts.RegistrationFinish{Purpose: accounts.CeremonyAddPasskey,
			UserID: u.ID, CredentialUUID: opts.CredentialUUID, Challenge: opts.Options.Challenge.String(), Name: "Laptop",
			CredentialID: att.CredentialID, ClientDataJSON: att.ClientDataJSON, AttestationObject: att.AttestationObject})
		if err != nil {
			t.Fatal(err)
		}
		_, cred, err := f.pk.InsertRegistration(t.Context(), v)
		if err != nil || cred.Name != "Laptop" || cred.UserID != u.ID {
			t.Fatalf("InsertRegistration = %+v, %v", cred, err)
		}
		// A second registration excludes the first passkey.
		opts2, err := f.pk.BeginRegistration(t.Context(), f.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyAddPasskey, User: u})
		if err != nil || len(opts2.Options.CredentialExcludeList) != 1 {
			t.Fatalf("second BeginRegistration excludes %+v, %v; want the first passkey", opts2, err)
		}
		if got, err := f.pk.FinishLogin(t.Context(), f.realm, f.assertion(t, auth, "erin")); err != nil || got.User.ID != u.ID {
			t.Fatalf("FinishLogin = %+v, %v", got, err)
		}
	})
}

func TestPasskeyUserVerificationRequired(t *testing.T) {
	eachStore(t, func(t *testing.T, f0 *fixture) {
		f := newPasskeyFixture(t, f0, config.UserVerificationRequired)
		auth := softauthn.New(testRPID, testOrigin, softauthn.Options{})
		f.register(t, auth, "ivy")
		noUV := softauthn.New(testRPID, testOrigin, softauthn.Options{UserNotVerified: true})
		noUV.ShareCredentials(auth)
		if _, err := f.pk.FinishLogin(t.Context(), f.realm, f.assertion(t, noUV, "ivy")); !errors.Is(err, accounts.ErrPasskeyRefused) {
			t.Fatalf("FinishLogin without UV = %v, want refused", err)
		}
		// Registration without UV is refused too.
		opts, err := f.pk.BeginRegistration(t.Context(), f.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyRegister, Username: "jon"})
		if err != nil {
			t.Fatal(err)
		}
		att, err := noUV.Register(mustJSON(t, opts.Options))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.pk.VerifyRegistration(t.Context(), f.realm, accounts.RegistrationFinish{Purpose: accounts.CeremonyRegister,
			CredentialUUID: opts.CredentialUUID, Challenge: opts.Options.Challenge.String(),
			CredentialID: att.CredentialID, ClientDataJSON: att.ClientDataJSON, AttestationObject: att.AttestationObject}); !errors.Is(err, accounts.ErrPasskeyRefused) {
			t.Fatalf("VerifyRegistration without UV = %v, want refused", err)
		}
		if _, err := f.svc.GetByUsername(t.Context(), f.realm.ID, "jon"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("a refused registration left a user: %v", err)
		}
	})
}

// TestPasskeyChallengeOnceConcurrently: of 8 parallel finishes of one
// ceremony exactly one signs in, in 20 rounds; and the replays, which
// carry the counter the first one stored, never get the passkey marked
// as cloned.
func TestPasskeyChallengeOnceConcurrently(t *testing.T) {
	eachStore(t, func(t *testing.T, f0 *fixture) {
		f := newPasskeyFixture(t, f0, config.UserVerificationPreferred)
		auth := softauthn.New(testRPID, testOrigin, softauthn.Options{})
		_, cred := f.register(t, auth, "kim")
		for range 20 {
			f.finishOnce(t, f.assertion(t, auth, "kim"))
			if c, err := f.svc.Credential(t.Context(), f.realm.ID, cred.UUID); err != nil || c.Status != accounts.CredentialActive {
				t.Fatalf("after replays of one answer the passkey is %+v, %v; want it active", c, err)
			}
		}
	})
}

// finishOnce posts in 8 times in parallel and wants one sign-in.
func (f *passkeyFixture) finishOnce(t *testing.T, in accounts.AssertionFinish) {
	t.Helper()
	{
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := f.pk.FinishLogin(t.Context(), f.realm, in); err == nil {
					ok.Add(1)
				} else if !errors.Is(err, accounts.ErrPasskeyRefused) {
					t.Errorf("FinishLogin: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%d of 8 finishes of one challenge signed in, want 1", ok.Load())
		}
	}
}

func TestPasskeyTransaction(t *testing.T) {
	eachStore(t, func(t *testing.T, f0 *fixture) {
		f := newPasskeyFixture(t, f0, config.UserVerificationPreferred)
		auth := softauthn.New(testRPID, testOrigin, softauthn.Options{})
		u, _ := f.register(t, auth, "lee")
		tx, err := f.pk.CreateTransaction(t.Context(), u, accounts.TxTypeText, "Pay 10 EUR to Bob", "n-1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.pk.Transaction(t.Context(), f.realm.ID, u.ID, tx.ID)
		if err != nil || got.Payload != "Pay 10 EUR to Bob" {
			t.Fatalf("Transaction = %+v, %v", got, err)
		}
		opts, err := f.pk.BeginTransaction(t.Context(), f.realm, u, got)
		if err != nil {
			t.Fatal(err)
		}
		as, err := auth.Assert(mustJSON(t, opts.Options))
		if err != nil {
			t.Fatal(err)
		}
		in := finishOf(accounts.CeremonyTx, "lee", opts.Options.Challenge.String(), as)
		done, err := f.pk.FinishTransaction(t.Context(), f.realm, tx.ID, in)
		if err != nil || done.Transaction.Status != storage.TxCompleted || done.Login.ServerNonce == "" {
			t.Fatalf("FinishTransaction = %+v, %v", done, err)
		}
		// A second ceremony on the same transaction cannot confirm it again.
		if _, err := f.pk.Transaction(t.Context(), f.realm.ID, u.ID, tx.ID); !errors.Is(err, accounts.ErrTransactionNotFound) {
			t.Fatalf("Transaction(confirmed) = %v, want ErrTransactionNotFound", err)
		}
		for name, bad := range map[string][3]string{
			"type":   {"html", "x", ""},
			"empty":  {accounts.TxTypeText, "", ""},
			"long":   {accounts.TxTypeText, strings.Repeat("x", accounts.MaxTxPayload+1), ""},
			"binary": {accounts.TxTypeText, "\xff", ""},
			"nonce":  {accounts.TxTypeText, "x", strings.Repeat("n", accounts.MaxTxNonce+1)},
		} {
			if _, err := f.pk.CreateTransaction(t.Context(), u, bad[0], bad[1], bad[2]); !errors.Is(err, accounts.ErrInvalidTransaction) {
				t.Errorf("CreateTransaction(%s) = %v, want ErrInvalidTransaction", name, err)
			}
		}
	})
}

// BenchmarkPasskeySignIn is one passkey sign-in per iteration (BeginLogin,
// the software authenticator, FinishLogin) on SQLite, 16 at a time.
func BenchmarkPasskeySignIn(b *testing.B) {
	store := storagetest.OpenSQLite(b)
	svc := accounts.New(store, accounts.Options{})
	realm := newRealm("rl_bench")
	realm.Passkeys = true
	pk, err := accounts.NewPasskeys(svc, passkeySnapshot(config.UserVerificationPreferred))
	if err != nil {
		b.Fatal(err)
	}
	const users = 16
	auths := make([]*softauthn.Authenticator, users)
	for i := range auths {
		auths[i] = softauthn.New(testRPID, testOrigin, softauthn.Options{})
		name := fmt.Sprintf("bench%d", i)
		opts, err := pk.BeginRegistration(b.Context(), realm, accounts.RegistrationStart{Purpose: accounts.CeremonyRegister, Username: name})
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := json.Marshal(opts.Options)
		att, err := auths[i].Register(raw)
		if err != nil {
			b.Fatal(err)
		}
		v, err := pk.VerifyRegistration(b.Context(), realm, accounts.RegistrationFinish{Purpose: accounts.CeremonyRegister, CredentialUUID: opts.CredentialUUID,
			Challenge: opts.Options.Challenge.String(), CredentialID: att.CredentialID, ClientDataJSON: att.ClientDataJSON, AttestationObject: att.AttestationObject})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := pk.InsertRegistration(b.Context(), v); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int32
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(p *testing.PB) {
		i := int(next.Add(1)-1) % users
		name := fmt.Sprintf("bench%d", i)
		for p.Next() {
			opts, err := pk.BeginLogin(b.Context(), realm, name)
			if err != nil {
				b.Fatal(err)
			}
			raw, _ := json.Marshal(opts.Options)
			as, err := auths[i].Assert(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := pk.FinishLogin(b.Context(), realm, finishOf(accounts.CeremonyLogin, name, opts.Options.Challenge.String(), as)); err != nil {
				var pe *accounts.PasskeyError
				errors.As(err, &pe)
				b.Fatal(err, pe.Cause)
			}
		}
	})
}
