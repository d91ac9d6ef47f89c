package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/latchkey/latchkey/storage"
)

// MySQLDSNEnv names the environment variable holding the DSN of a MySQL or
// MariaDB server for tests, e.g. "root@tcp(127.0.0.1:3306)/test?parseTime=true".
// Its database part is ignored: every test gets a fresh database.
const MySQLDSNEnv = "LATCHKEY_TEST_MYSQL_DSN"

// RequireMySQLEnv, when set (CI sets it), turns a missing MySQLDSNEnv into a
// test failure instead of a skip.
const RequireMySQLEnv = "LATCHKEY_REQUIRE_MYSQL"

// OpenSQLite returns a migrated Store on a new SQLite file in a temporary
// directory, closed when the test ends.
func OpenSQLite(t testing.TB) *storage.Store {
	t.Helper()
	return open(t, storage.DriverSQLite, filepath.Join(t.TempDir(), "latchkey.db"))
}

// OpenMySQL returns a migrated Store on a fresh MySQL database (see
// MySQLDSN), closed and dropped when the test ends. It skips the test when
// LATCHKEY_TEST_MYSQL_DSN is not set.
func OpenMySQL(t testing.TB) *storage.Store {
	t.Helper()
	return open(t, storage.DriverMySQL, MySQLDSN(t))
}

func open(t testing.TB, driver, dsn string) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), driver, dsn, storage.Options{})
	if err != nil {
		t.Fatalf("storage.Open(%s): %v", driver, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", driver, err)
	}
	opened.Store(s, database{driver, dsn})
	t.Cleanup(func() { opened.Delete(s) })
	return s
}

// database is where a store of this package was opened.
type database struct{ driver, dsn string }

// opened maps each open *storage.Store of OpenSQLite and OpenMySQL to its
// database, for openReplica.
var opened sync.Map

// openReplica returns a second Store on s's database, as another replica
// of the server opens it (on SQLite: another process on the same file),
// closed when the test ends. It skips the test for a store this package
// did not open.
func openReplica(t testing.TB, s *storage.Store) *storage.Store {
	t.Helper()
	db, ok := opened.Load(s)
	if !ok {
		t.Skip("the store was not opened by storagetest: no second store on its database")
	}
	return open(t, db.(database).driver, db.(database).dsn)
}

// MySQLDSN creates a uniquely named database (lk_t_<random>) on the server
// named by LATCHKEY_TEST_MYSQL_DSN, drops it when the test ends, and returns
// a DSN for it; for tests that start whole servers. The database's default
// collation is deliberately case-insensitive, so a table that forgets its
// own utf8mb4_bin shows up in the conformance suite. It skips the test when
// the variable is not set.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	SkipWithoutMySQL(t)
	base := os.Getenv(MySQLDSNEnv)
	cfg, err := gomysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("%s: %v", MySQLDSNEnv, err)
	}
	admin := cfg.Clone()
	admin.DBName = ""
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatalf("%s: %v", MySQLDSNEnv, err)
	}
	defer db.Close()

	name := "lk_t_" + randomHex(t, 8)
	if _, err := db.ExecContext(context.Background(),
		"CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", admin.FormatDSN())
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP DATABASE "+name); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
