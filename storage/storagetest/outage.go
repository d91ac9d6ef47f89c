package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// A store whose database does not answer (here: closed) returns errors from
// every read and write — never a panic, and never "not found" or "inactive",
// which callers would turn into "this token is not active" or "no such
// user".

func testClosedStore(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-outage", subject: "usr_outage"})
	createAccess(t, s, ctx, sig("at-outage"), r)
	createRefresh(t, s, ctx, sig("rt-outage"), sig("at-outage"), r)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]func() error{
		"GetAccessTokenSession": func() error {
			_, err := s.GetAccessTokenSession(ctx, sig("at-outage"), &session{})
			return err
		},
		"GetRefreshTokenSession": func() error {
			_, err := s.GetRefreshTokenSession(ctx, sig("rt-outage"), &session{})
			return err
		},
		"RefreshTokenUsedAt": func() error {
			_, err := s.RefreshTokenUsedAt(ctx, sig("rt-outage"))
			return err
		},
		"GetUser": func() error {
			_, err := s.GetUser(ctx, "rl_test", "usr_outage")
			return err
		},
		"UserStatus": func() error {
			_, _, err := s.UserStatus(ctx, "rl_test", "usr_outage", "", "")
			return err
		},
		"FindUserByLogin": func() error {
			_, err := s.FindUserByLogin(ctx, "rl_test", "alice", true, true)
			return err
		},
		"ReserveLoginAttempt": func() error {
			_, err := s.ReserveLoginAttempt(ctx, "rl_test", "alice", 3, time.Minute, base)
			return err
		},
		"RevokeGrant": func() error { return s.RevokeGrant(ctx, "req-outage") },
		"PasskeysOfUser": func() error {
			_, err := s.PasskeysOfUser(ctx, "rl_test", "usr_outage")
			return err
		},
		"PasskeyByCredentialID": func() error {
			_, _, err := s.PasskeyByCredentialID(ctx, "rl_test", []byte("id"))
			return err
		},
		"RecordPasskeyUse": func() error {
			return s.RecordPasskeyUse(ctx, "rl_test", "a1a1a1a1-0000-8000-8000-000000000001", 1, false, base)
		},
		"TakeCeremony": func() error {
			_, err := s.TakeCeremony(ctx, sig("ceremony-outage"), base)
			return err
		},
		"GetPasskeyTx": func() error {
			_, err := s.GetPasskeyTx(ctx, "rl_test", "ptx_outage", base)
			return err
		},
		"CompletePasskeyTx": func() error { return s.CompletePasskeyTx(ctx, "rl_test", "ptx_outage", base) },
		"GetBrowserSession": func() error {
			_, err := s.GetBrowserSession(ctx, sig("cookie-outage"))
			return err
		},
		"UseOnce": func() error { return s.UseOnce(ctx, "apt", "env", "jti-outage", base.Add(time.Minute)) },
	}
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panicked on a closed store: %v", p)
					}
				}()
				err = check()
			}()
			if err == nil || errors.Is(err, fosite.ErrNotFound) || errors.Is(err, fosite.ErrInactiveToken) || errors.Is(err, storage.ErrNotFound) {
				t.Errorf("on a closed store: %v, want a storage failure", err)
			}
		})
	}
}
