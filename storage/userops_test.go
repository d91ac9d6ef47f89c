package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

func TestUserOperationsSQLite(t *testing.T) {
	storagetest.RunUserOperations(t, func(t *testing.T) *storage.Store { return storagetest.OpenSQLite(t) })
}

func TestUserOperationsMySQL(t *testing.T) {
	storagetest.SkipWithoutMySQL(t)
	storagetest.RunUserOperations(t, func(t *testing.T) *storage.Store { return storagetest.OpenMySQL(t) })
}

// TestDeleteUserFailureMidway: when a step of DeleteUser fails after others
// succeeded — here the refresh tokens' DELETE, refused by a trigger, after
// the user row and the access tokens are gone — the transaction rolls back
// and the user and all their tokens are still there.
func TestDeleteUserFailureMidway(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *storage.Store{
		"sqlite": storagetest.OpenSQLite,
		"mysql":  storagetest.OpenMySQL,
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
			if err := s.CreateUser(ctx, &storage.User{ID: "usr_1", Realm: "rl_a", Username: "sally", UsernameNorm: "sally",
				Role: "user", Status: "active", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			r := &fosite.Request{ID: "req-1", RequestedAt: now, Client: &fosite.DefaultClient{ID: "c"},
				Session: &fosite.DefaultSession{Subject: "usr_1"}}
			if err := s.CreateAccessTokenSession(ctx, "at-1", r); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateRefreshTokenSession(ctx, "rt-1", "at-1", r); err != nil {
				t.Fatal(err)
			}

			trigger := "CREATE TRIGGER lk_test_refuse BEFORE DELETE ON refresh_tokens BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
			if s.Driver() == storage.DriverMySQL {
				trigger = "CREATE TRIGGER lk_test_refuse BEFORE DELETE ON refresh_tokens FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'"
			}
			db, err := storage.WritePool(s).DB()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, trigger); err != nil { // no arguments: not a prepared statement
				t.Fatalf("create trigger: %v", err)
			}

			err = s.DeleteUser(ctx, "rl_a", "usr_1")
			if err == nil || errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("DeleteUser with the refresh tokens' DELETE refused = %v, want the failure", err)
			}
			if _, err := s.GetUser(ctx, "rl_a", "usr_1"); err != nil {
				t.Errorf("the user is gone after a failed DeleteUser: %v", err)
			}
			if _, err := s.GetAccessTokenSession(ctx, "at-1", &fosite.DefaultSession{}); err != nil {
				t.Errorf("the access token is gone after a failed DeleteUser: %v", err)
			}
			if _, err := s.GetRefreshTokenSession(ctx, "rt-1", &fosite.DefaultSession{}); err != nil {
				t.Errorf("the refresh token is gone or revoked after a failed DeleteUser: %v", err)
			}
			if _, err := db.ExecContext(context.WithoutCancel(ctx), "DROP TRIGGER lk_test_refuse"); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteUser(ctx, "rl_a", "usr_1"); err != nil {
				t.Fatalf("DeleteUser without the trigger: %v", err)
			}
		})
	}
}
