package accounts_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/internal/softauthn"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// TestPasskeyRefusals: every refusal of a sign-in, each a *PasskeyError
// that leaves no session behind.
func TestPasskeyRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, f0 *fixture) {
		f := newPasskeyFixture(t, f0, config.UserVerificationPreferred)
		auth := softauthn.New(testRPID, testOrigin, softauthn.Options{})
		u, cred := f.register(t, auth, "fay")
		other := softauthn.New(testRPID, testOrigin, softauthn.Options{})
		f.register(t, other, "gus")

		cases := map[string]func(t *testing.T) accounts.AssertionFinish{
			"challenge replayed": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				if _, err := f.pk.FinishLogin(t.Context(), f.realm, in); err != nil {
					t.Fatal(err)
				}
				return in
			},
			"challenge unknown": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				in.Challenge = strings.Repeat("A", 43)
				return in
			},
			"challenge expired": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				f.clock.Set(f.clock.Now().Add(f.pk.Timeout() + time.Second))
				return in
			},
			"another user's ceremony": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				in.Username = "gus"
				return in
			},
			"another user's credential": func(t *testing.T) accounts.AssertionFinish {
				opts, err := f.pk.BeginLogin(t.Context(), f.realm, "fay")
				if err != nil {
					t.Fatal(err)
				}
				opts.Options.AllowedCredentials = nil // gus's authenticator answers with his passkey
				as, err := other.Assert(mustJSON(t, opts.Options))
				if err != nil {
					t.Fatal(err)
				}
				return finishOf(accounts.CeremonyLogin, "fay", opts.Options.Challenge.String(), as)
			},
			"another ceremony's purpose": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				in.Purpose = accounts.CeremonyDiscoverable
				return in
			},
			"wrong origin": func(t *testing.T) accounts.AssertionFinish {
				evil := softauthn.New(testRPID, "http://evil.localhost:8080", softauthn.Options{})
				return f.withAuthenticatorKeys(t, auth, evil)
			},
			"wrong rp id hash": func(t *testing.T) accounts.AssertionFinish {
				return f.withAuthenticatorKeys(t, auth, softauthn.New("example.com", testOrigin, softauthn.Options{}))
			},
			"user presence missing": func(t *testing.T) accounts.AssertionFinish {
				return f.withAuthenticatorKeys(t, auth, softauthn.New(testRPID, testOrigin, softauthn.Options{UserNotPresent: true}))
			},
			"tampered client data": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				// Still valid JSON of the right challenge and origin: only the signature no longer covers it.
				in.ClientDataJSON = append(in.ClientDataJSON[:len(in.ClientDataJSON)-1:len(in.ClientDataJSON)-1], []byte(`,"extra":1}`)...)
				return in
			},
			"tampered signature": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				in.Signature = append([]byte(nil), in.Signature...)
				in.Signature[len(in.Signature)-1] ^= 0x01
				return in
			},
			"tampered authenticator data": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				in.AuthenticatorData = append([]byte(nil), in.AuthenticatorData...)
				in.AuthenticatorData[len(in.AuthenticatorData)-1] ^= 0x01
				return in
			},
			"user handle of another user": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				in.UserHandle = []byte("usr_someoneelse")
				return in
			},
			"unknown user (decoy)": func(t *testing.T) accounts.AssertionFinish {
				in := f.assertion(t, auth, "fay")
				opts, err := f.pk.BeginLogin(t.Context(), f.realm, "nobody")
				if err != nil {
					t.Fatal(err)
				}
				in.Username, in.Challenge = "nobody", opts.Options.Challenge.String()
				return in
			},
		}
		const (
			challenge = "The challenge is unknown"
			binding   = "The response belongs to another"
			invalid   = "The passkey's response does not verify."
			unknown   = "The passkey is not registered"
		)
		want := map[string]string{
			"challenge replayed": challenge, "challenge unknown": challenge, "challenge expired": challenge,
			"another user's ceremony": binding, "another user's credential": binding, "another ceremony's purpose": binding,
			"wrong origin": invalid, "wrong rp id hash": invalid, "user presence missing": invalid, "tampered client data": invalid,
			"tampered signature": invalid, "tampered authenticator data": invalid, "user handle of another user": binding,
			"unknown user (decoy)": unknown,
		}
		for name, mk := range cases {
			t.Run(name, func(t *testing.T) {
				in := mk(t)
				_, err := f.pk.FinishLogin(t.Context(), f.realm, in)
				var pe *accounts.PasskeyError
				if !errors.As(err, &pe) || !errors.Is(err, accounts.ErrPasskeyRefused) {
					t.Fatalf("FinishLogin = %v, want a *PasskeyError", err)
				}
				if !strings.HasPrefix(pe.Reason, want[name]) || want[name] == "" {
					t.Errorf("refused with %q (cause %v), want %q…", pe.Reason, pe.Cause, want[name])
				}
				if strings.Contains(pe.Error(), "webauthn") || strings.Contains(pe.Error(), "Error") {
					t.Errorf("reason %q shows library text", pe.Error())
				}
			})
		}
		// The passkey still works after all of that.
		if got, err := f.pk.FinishLogin(t.Context(), f.realm, f.assertion(t, auth, "fay")); err != nil || got.User.ID != u.ID {
			t.Fatalf("FinishLogin after the refusals = %+v, %v", got, err)
		}

		t.Run("revoked credential", func(t *testing.T) {
			a := softauthn.New(testRPID, testOrigin, softauthn.Options{})
			h := f.create(t, accounts.NewUser{Username: "hal", Password: goodPassword})
			c := f.addPasskey(t, a, h)
			if _, err := f.svc.RevokeCredential(t.Context(), f.realm.ID, c.UUID); err != nil {
				t.Fatal(err)
			}
			opts, err := f.pk.BeginLogin(t.Context(), f.realm, "hal")
			if err != nil {
				t.Fatal(err)
			}
			opts.Options.AllowedCredentials = nil // the decoy list; the authenticator still has the key
			as, err := a.Assert(mustJSON(t, opts.Options))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.pk.FinishLogin(t.Context(), f.realm, finishOf(accounts.CeremonyLogin, "hal", opts.Options.Challenge.String(), as)); !errors.Is(err, accounts.ErrPasskeyRefused) {
				t.Fatalf("FinishLogin(revoked) = %v, want refused", err)
			}
		})
		t.Run("deactivated user", func(t *testing.T) {
			in := f.assertion(t, other, "gus")
			g, err := f.svc.GetByUsername(t.Context(), f.realm.ID, "gus")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.SetStatus(t.Context(), f.realm.ID, g.ID, accounts.StatusDeactivated); err != nil {
				t.Fatal(err)
			}
			if _, err := f.pk.FinishLogin(t.Context(), f.realm, in); !errors.Is(err, accounts.ErrPasskeyRefused) {
				t.Fatalf("FinishLogin(deactivated) = %v, want refused", err)
			}
		})
		t.Run("counter backwards", func(t *testing.T) {
			auth.SetCounter(0) // the next signature counts 1, below the stored count
			_, err := f.pk.FinishLogin(t.Context(), f.realm, f.assertion(t, auth, "fay"))
			if !errors.Is(err, accounts.ErrPasskeyRefused) {
				t.Fatalf("FinishLogin(counter backwards) = %v, want refused", err)
			}
			c, err := f.svc.Credential(t.Context(), f.realm.ID, cred.UUID)
			if err != nil || c.Status != storage.CredentialInactive {
				t.Fatalf("credential after a cloned counter = %+v, %v; want inactive", c, err)
			}
			auth.SetCounter(1000)
			opts, err := f.pk.BeginLogin(t.Context(), f.realm, "fay")
			if err != nil {
				t.Fatal(err)
			}
			opts.Options.AllowedCredentials = nil // the decoy list; the authenticator still has the key
			as, err := auth.Assert(mustJSON(t, opts.Options))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.pk.FinishLogin(t.Context(), f.realm, finishOf(accounts.CeremonyLogin, "fay", opts.Options.Challenge.String(), as)); !errors.Is(err, accounts.ErrPasskeyRefused) {
				t.Fatalf("an inactive passkey signed in: %v", err)
			}
		})
	})
}

// withAuthenticatorKeys starts fay's sign-in and answers it with auth's
// keys but as bad would (another origin, rp id or flags).
func (f *passkeyFixture) withAuthenticatorKeys(t *testing.T, auth, bad *softauthn.Authenticator) accounts.AssertionFinish {
	t.Helper()
	bad.ShareCredentials(auth)
	return f.assertion(t, bad, "fay")
}

func (f *passkeyFixture) addPasskey(t *testing.T, auth *softauthn.Authenticator, u *accounts.User) *accounts.Credential {
	t.Helper()
	opts, err := f.pk.BeginRegistration(t.Context(), f.realm, accounts.RegistrationStart{Purpose: accounts.CeremonyAddPasskey, User: u})
	if err != nil {
		t.Fatal(err)
	}
	att, err := auth.Register(mustJSON(t, opts.Options))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.pk.VerifyRegistration(t.Context(), f.realm, accounts.RegistrationFinish{Purpose: accounts.CeremonyAddPasskey,
		CredentialUUID: opts.CredentialUUID, Challenge: opts.Options.Challenge.String(),
		CredentialID: att.CredentialID, ClientDataJSON: att.ClientDataJSON, AttestationObject: att.AttestationObject})
	if err != nil {
		t.Fatal(err)
	}
	_, c, err := f.pk.InsertRegistration(t.Context(), v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPasskeyDecoys: an unknown user's sign-in options have the shape of a
// real user's with one passkey (one 32-byte id, no transports), the same
// decoy on every call.
func TestPasskeyDecoys(t *testing.T) {
	eachStore(t, func(t *testing.T, f0 *fixture) {
		f := newPasskeyFixture(t, f0, config.UserVerificationPreferred)
		f.register(t, softauthn.New(testRPID, testOrigin, softauthn.Options{}), "mia")
		f.create(t, accounts.NewUser{Username: "ned", Password: goodPassword}) // no passkey
		shape := func(username string) ([]byte, string) {
			opts, err := f.pk.BeginLogin(t.Context(), f.realm, username)
			if err != nil {
				t.Fatal(err)
			}
			allow := opts.Options.AllowedCredentials
			if len(allow) != 1 || len(allow[0].CredentialID) != 32 || len(allow[0].Transport) != 0 {
				t.Fatalf("BeginLogin(%q) allows %+v; want one 32-byte id without transports", username, allow)
			}
			opts.Options.Challenge, opts.Options.AllowedCredentials = nil, nil
			return allow[0].CredentialID, string(mustJSON(t, opts.Options))
		}
		_, real := shape("mia")
		for _, name := range []string{"nobody", "ned"} {
			id1, rest := shape(name)
			id2, _ := shape(name)
			if rest != real || string(id1) != string(id2) {
				t.Errorf("decoy of %q: %s (ids %x, %x); a real user's: %s", name, rest, id1, id2, real)
			}
		}
	})
}

// TestPasskeyBinding: a ceremony begun with a binding finishes only with
// the same binding.
func TestPasskeyBinding(t *testing.T) {
	f := newPasskeyFixture(t, newFixture(t, storagetest.OpenSQLite(t)), config.UserVerificationPreferred)
	auth := softauthn.New(testRPID, testOrigin, softauthn.Options{})
	f.register(t, auth, "ona")
	for binding, want := range map[string]bool{"req-1": true, "req-2": false, "": false} {
		opts, err := f.pk.BeginBoundLogin(t.Context(), f.realm, "", "req-1")
		if err != nil {
			t.Fatal(err)
		}
		as, err := auth.Assert(mustJSON(t, opts.Options))
		if err != nil {
			t.Fatal(err)
		}
		in := finishOf(accounts.CeremonyDiscoverable, "", opts.Options.Challenge.String(), as)
		in.Binding = binding
		_, err = f.pk.FinishLogin(t.Context(), f.realm, in)
		if (err == nil) != want || (err != nil && !errors.Is(err, accounts.ErrPasskeyRefused)) {
			t.Errorf("finish with binding %q: %v, want success %v", binding, err, want)
		}
	}
}

// TestPasskeyDecoyKey: decoys are keyed by the database's secret, not by
// anything a config or a JWKS shows: the same on another Passkeys of the
// same database (a reload, a replica), another on another database with
// the same config.
func TestPasskeyDecoyKey(t *testing.T) {
	decoy := func(f *fixture) string {
		pk, err := accounts.NewPasskeys(f.svc, passkeySnapshot(config.UserVerificationPreferred))
		if err != nil {
			t.Fatal(err)
		}
		f.realm.Passkeys = true
		opts, err := pk.BeginLogin(t.Context(), f.realm, "nobody")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", opts.Options.AllowedCredentials[0].CredentialID)
	}
	f1 := newFixture(t, storagetest.OpenSQLite(t))
	f2 := newFixture(t, storagetest.OpenSQLite(t))
	if a, b := decoy(f1), decoy(f1); a != b {
		t.Errorf("two Passkeys of one database: decoys %s and %s, want one", a, b)
	}
	if a, b := decoy(f1), decoy(f2); a == b {
		t.Errorf("two databases with the same config share the decoy %s", a)
	}
}
