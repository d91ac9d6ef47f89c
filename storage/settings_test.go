package storage_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/ory/fosite"
	"gorm.io/gorm"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, for a second, raw connection

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

func openMigrated(t *testing.T, driver, dsn string, opts storage.Options) *storage.Store {
	t.Helper()
	s, err := storage.Open(t.Context(), driver, dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// rawDB is the database/sql pool under a GORM handle.
func rawDB(t *testing.T, db *gorm.DB) *sql.DB {
	t.Helper()
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	return sqlDB
}

func pragma(t *testing.T, db *gorm.DB, name string) string {
	t.Helper()
	var v string
	if err := rawDB(t, db).QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestSQLiteSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "parent", "latchkey.db")
	s := openMigrated(t, storage.DriverSQLite, path, storage.Options{})
	for _, tc := range []struct {
		pool       string
		db         *gorm.DB
		name, want string
	}{
		{"write", storage.WritePool(s), "journal_mode", "wal"},
		{"write", storage.WritePool(s), "synchronous", "1"}, // NORMAL
		{"write", storage.WritePool(s), "foreign_keys", "1"},
		{"write", storage.WritePool(s), "busy_timeout", "5000"},
		{"write", storage.WritePool(s), "query_only", "0"},
		{"read", storage.ReadPool(s), "journal_mode", "wal"},
		{"read", storage.ReadPool(s), "synchronous", "1"},
		{"read", storage.ReadPool(s), "busy_timeout", "5000"},
		{"read", storage.ReadPool(s), "query_only", "1"},
	} {
		if got := pragma(t, tc.db, tc.name); got != tc.want {
			t.Errorf("%s pool: PRAGMA %s = %s, want %s", tc.pool, tc.name, got, tc.want)
		}
	}
}

func TestSQLiteRefusesNonPaths(t *testing.T) {
	for _, dsn := range []string{"", ":memory:", "file:x.db", filepath.Join(t.TempDir(), "x.db") + "?_pragma=journal_mode(DELETE)"} {
		if s, err := storage.Open(t.Context(), storage.DriverSQLite, dsn, storage.Options{}); err == nil {
			s.Close()
			t.Errorf("Open(sqlite, %q) succeeded", dsn)
		}
	}
	if _, err := storage.Open(t.Context(), "postgres", "x", storage.Options{}); err == nil {
		t.Error("Open(postgres) succeeded")
	}
}

// TestSQLiteWriteTransactionsBeginImmediate: a transaction holds SQLite's
// write lock from BEGIN, before its first statement, so another writer
// cannot start one; a deferred transaction would only take it at its first
// write and could then fail with SQLITE_BUSY whatever the busy timeout.
func TestSQLiteWriteTransactionsBeginImmediate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s := openMigrated(t, storage.DriverSQLite, path, storage.Options{})

	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	tryWrite := func() error {
		tx, err := other.BeginTx(t.Context(), nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		_, err = tx.ExecContext(t.Context(), "DELETE FROM used_ids")
		return err
	}

	txCtx, err := s.BeginTX(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	err = tryWrite()
	if err == nil {
		t.Fatal("another connection wrote while a store transaction that had run no statement was open: it began DEFERRED")
	}
	if !storage.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = false, want true for SQLITE_BUSY", err)
	}
	if err := s.Rollback(txCtx); err != nil {
		t.Fatal(err)
	}
	if err := tryWrite(); err != nil {
		t.Fatalf("write after the store's rollback: %v", err)
	}
}

func TestMySQLSettings(t *testing.T) {
	dsn := storagetest.MySQLDSN(t)
	s := openMigrated(t, storage.DriverMySQL, dsn, storage.Options{})
	db := rawDB(t, storage.WritePool(s))

	var isolation string
	if err := db.QueryRow("SELECT @@SESSION.transaction_isolation").Scan(&isolation); err != nil {
		// MariaDB before 11.1 spells it tx_isolation.
		if err := db.QueryRow("SELECT @@SESSION.tx_isolation").Scan(&isolation); err != nil {
			t.Fatal(err)
		}
	}
	if isolation != "READ-COMMITTED" {
		t.Errorf("isolation = %s, want READ-COMMITTED", isolation)
	}
	var mode, zone string
	if err := db.QueryRow("SELECT @@SESSION.sql_mode, @@SESSION.time_zone").Scan(&mode, &zone); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"STRICT_ALL_TABLES", "NO_ZERO_DATE", "NO_ZERO_IN_DATE"} {
		if !strings.Contains(mode, want) {
			t.Errorf("sql_mode = %s, want %s in it", mode, want)
		}
	}
	if zone != "+00:00" {
		t.Errorf("time_zone = %s, want +00:00", zone)
	}

	// Every string column that holds an id, a hash, a jti or a nonce
	// compares byte for byte.
	rows, err := db.Query(`SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND DATA_TYPE IN ('varchar', 'char')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, column, collation string
		if err := rows.Scan(&table, &column, &collation); err != nil {
			t.Fatal(err)
		}
		n++
		if collation != "utf8mb4_bin" {
			t.Errorf("%s.%s collation = %s, want utf8mb4_bin", table, column, collation)
		}
	}
	if n < 10 {
		t.Errorf("found %d varchar columns; the query is wrong", n)
	}
}

// TestMySQLWritesUTC: whatever loc the DSN asks for, times are written in
// UTC, as another client reading the column sees them.
func TestMySQLWritesUTC(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	dsn := storagetest.MySQLDSN(t)
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Loc = tokyo
	cfg.ParseTime = false
	s := openMigrated(t, storage.DriverMySQL, cfg.FormatDSN(), storage.Options{})

	at := time.Date(2031, 5, 6, 7, 8, 9, 123456000, tokyo)
	req := &fosite.Request{ID: "req", RequestedAt: at, Client: &fosite.DefaultClient{ID: "c"}, Session: &fosite.DefaultSession{}}
	if err := s.CreateAccessTokenSession(t.Context(), "sig", req); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAccessTokenSession(t.Context(), "sig", &fosite.DefaultSession{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.GetRequestedAt().Equal(at) || got.GetRequestedAt().Location() != time.UTC {
		t.Errorf("RequestedAt = %v, want %v in UTC", got.GetRequestedAt(), at)
	}
	var raw string
	if err := rawDB(t, storage.WritePool(s)).QueryRow("SELECT DATE_FORMAT(requested_at, '%Y-%m-%d %H:%i:%s.%f') FROM access_tokens").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if want := at.UTC().Format("2006-01-02 15:04:05.000000"); raw != want {
		t.Errorf("stored requested_at = %s, want %s (UTC)", raw, want)
	}
}

func TestMySQLConfig(t *testing.T) {
	cfg, err := storage.MySQLConfig("u:p@tcp(db:3306)/latchkey?loc=Local&parseTime=false")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ParseTime || cfg.Loc != time.UTC || !strings.HasPrefix(cfg.Collation, "utf8mb4_") {
		t.Errorf("config not forced: parseTime=%v loc=%v collation=%s", cfg.ParseTime, cfg.Loc, cfg.Collation)
	}
	for _, dsn := range []string{
		"u:p@tcp(db:3306)/",                      // no database
		"u:p@tcp(db:3306)/latchkey?charset=utf8", // not utf8mb4
		"u:p@tcp(db:3306)/latchkey?collation=latin1_swedish_ci",
		"not a dsn",
	} {
		if _, err := storage.MySQLConfig(dsn); err == nil {
			t.Errorf("MySQLConfig(%q) accepted", dsn)
		}
	}
}

func TestIsRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&gomysql.MySQLError{Number: 1213, Message: "Deadlock found"}, true},
		{&gomysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}, true},
		{fmt.Errorf("storage: rotate refresh token: %w", &gomysql.MySQLError{Number: 1213}), true},
		{&gomysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, false},
		{storage.ErrAlreadyExists, false},
		{fosite.ErrNotFound, false},
		{nil, false},
	} {
		if got := storage.IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestConcurrentMigrate: replicas starting together each run Migrate.
func TestConcurrentMigrate(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testConcurrentMigrate(t, storage.DriverSQLite, filepath.Join(t.TempDir(), "latchkey.db"))
	})
	t.Run("mysql", func(t *testing.T) {
		testConcurrentMigrate(t, storage.DriverMySQL, storagetest.MySQLDSN(t))
	})
}

func testConcurrentMigrate(t *testing.T, driver, dsn string) {
	const n = 3
	stores := make([]*storage.Store, n)
	for i := range stores {
		s, err := storage.Open(t.Context(), driver, dsn, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	if err := stores[0].Migrate(t.Context()); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
	if err := stores[0].UseOnce(t.Context(), storage.KindAPT, "env", "jti", time.Now().Add(time.Hour)); err != nil {
		t.Errorf("the migrated schema does not work: %v", err)
	}
}

// TestRunPurger: the purger runs at once, then every interval, with the
// store's clock, and stops with its context.
func TestRunPurger(t *testing.T) {
	now := time.Date(2031, 1, 1, 12, 0, 0, 0, time.UTC)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := openMigrated(t, storage.DriverSQLite, filepath.Join(t.TempDir(), "latchkey.db"),
		storage.Options{Now: func() time.Time { return now }, Logger: logger})

	ctx := t.Context()
	// Expired 2 minutes ago: purged with a grace of 1 minute. Expired 30 s
	// ago: within the grace, kept.
	if err := s.UseOnce(ctx, storage.KindAPT, "env", "old", now.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.UseOnce(ctx, storage.KindAPT, "env", "recent", now.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}

	purgeCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		s.RunPurger(purgeCtx, time.Hour, time.Minute)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "deleted=1") {
		if time.Now().After(deadline) {
			t.Fatalf("the purger logged no deletion; logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunPurger did not return after its context ended")
	}
	if err := s.UseOnce(ctx, storage.KindAPT, "env", "old", now.Add(time.Hour)); err != nil {
		t.Errorf("the expired id was not purged: %v", err)
	}
	if err := s.UseOnce(ctx, storage.KindAPT, "env", "recent", now.Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyUsed) {
		t.Errorf("the id within the grace period was purged: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
