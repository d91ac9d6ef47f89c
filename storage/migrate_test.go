package storage_test

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// TestMySQLMigrationRerun: MySQL's DDL is not transactional, so a
// migration that stopped half-way (its tables made, a column not yet
// added, its version not recorded) runs again from the start. Migration 8
// is made to: its tables are CREATE … IF NOT EXISTS, and browser_sessions'
// amr column is added only when missing (MySQL 8 has no ADD COLUMN IF NOT
// EXISTS).
func TestMySQLMigrationRerun(t *testing.T) {
	s := openMigrated(t, storage.DriverMySQL, storagetest.MySQLDSN(t), storage.Options{})
	db := rawDB(t, storage.WritePool(s))
	amrColumns := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() " +
			"AND TABLE_NAME = 'browser_sessions' AND COLUMN_NAME = 'amr'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, stop := range []string{"after the column", "before the column"} {
		if _, err := db.Exec("DELETE FROM schema_migrations WHERE version = 8"); err != nil {
			t.Fatal(err)
		}
		if stop == "before the column" {
			if _, err := db.Exec("ALTER TABLE browser_sessions DROP COLUMN amr"); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate again, stopped %s: %v", stop, err)
		}
		if n := amrColumns(); n != 1 {
			t.Fatalf("stopped %s: %d amr columns after Migrate, want 1", stop, n)
		}
	}
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	b := &storage.BrowserSession{IDHash: "h", SID: "sid", Realm: "rl_a", UserID: "usr_1", AuthTime: now, LastSeen: now, ExpiresAt: now.Add(time.Hour), AMR: "hwk user"}
	if err := s.CreateBrowserSession(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBrowserSession(t.Context(), "h"); err != nil || got.AMR != "hwk user" {
		t.Fatalf("after the re-run: %+v, %v", got, err)
	}
}
