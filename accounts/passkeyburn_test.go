package accounts_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/internal/softauthn"
)

// TestPasskeyRefusalBurnsTheChallenge: a challenge answered wrong is dead:
// the right answer to it afterwards is refused too. And a verified
// sign-in not yet consumed is used up once.
func TestPasskeyRefusalBurnsTheChallenge(t *testing.T) {
	eachStore(t, func(t *testing.T, f0 *fixture) {
		f := newPasskeyFixture(t, f0, config.UserVerificationPreferred)
		auth := softauthn.New(testRPID, testOrigin, softauthn.Options{})
		f.register(t, auth, "pia")
		in := f.assertion(t, auth, "pia")
		bad := in
		bad.Signature = append([]byte(nil), in.Signature...)
		bad.Signature[len(bad.Signature)-1] ^= 1
		if _, err := f.pk.VerifyLogin(t.Context(), f.realm, bad); !errors.Is(err, accounts.ErrPasskeyRefused) {
			t.Fatalf("a tampered signature: %v", err)
		}
		_, err := f.pk.FinishLogin(t.Context(), f.realm, in)
		var pe *accounts.PasskeyError
		if !errors.As(err, &pe) || !strings.HasPrefix(pe.Reason, "The challenge is unknown") {
			t.Fatalf("the right answer after a wrong one = %v, want the challenge refused", err)
		}

		in = f.assertion(t, auth, "pia")
		l, err := f.pk.VerifyLogin(t.Context(), f.realm, in)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.pk.Consume(t.Context(), l); err != nil {
			t.Fatalf("Consume: %v", err)
		}
		if err := f.pk.Consume(t.Context(), l); !errors.Is(err, accounts.ErrPasskeyRefused) {
			t.Fatalf("a second Consume = %v, want refused", err)
		}
	})
}
