package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
)

// SQLite pool sizes. SQLite has one writer at a time, so writes queue in Go
// on a single connection (a hand-off in microseconds) rather than in
// SQLite's busy handler (sleeps of 1–100 ms); measured in docs/storage.md.
// Reads in WAL mode run beside the writer on their own pool.
const (
	sqliteWriteConns = 1
	sqliteReadConns  = 4
	sqliteBusyMillis = 5000
)

// sqlitePragmas apply to every connection; the driver runs each as
// "PRAGMA <value>" when it opens the connection.
var sqlitePragmas = []string{
	fmt.Sprintf("busy_timeout(%d)", sqliteBusyMillis),
	"synchronous(NORMAL)", // durable at checkpoints; with WAL a crash loses at most the last commits, never consistency
	"foreign_keys(1)",
}

// openSQLite opens the write pool (journal_mode WAL, transactions BEGIN
// IMMEDIATE so a read-then-write transaction never fails upgrading its lock)
// and the read pool (query_only, default deferred transactions) on one file.
func openSQLite(ctx context.Context, path string, config func() *gorm.Config) (write, read *gorm.DB, err error) {
	if err := checkSQLitePath(path); err != nil {
		return nil, nil, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, nil, fmt.Errorf("storage: create database directory: %w", err)
		}
	}

	// The write pool first: it switches the file to WAL, which persists, so
	// read connections opened afterwards find it in WAL already.
	writeParams := append([]string{"journal_mode(WAL)"}, sqlitePragmas...)
	write, err = openSQLitePool(ctx, sqliteDSN(path, writeParams, "immediate"), sqliteWriteConns, config)
	if err != nil {
		return nil, nil, err
	}
	readParams := append([]string{"query_only(1)"}, sqlitePragmas...)
	read, err = openSQLitePool(ctx, sqliteDSN(path, readParams, ""), sqliteReadConns, config)
	if err != nil {
		if sqlDB, dbErr := write.DB(); dbErr == nil {
			_ = sqlDB.Close()
		}
		return nil, nil, err
	}
	return write, read, nil
}

// checkSQLitePath refuses what is not a plain file path: the settings are
// Latchkey's, and an in-memory database would differ per connection.
func checkSQLitePath(path string) error {
	switch {
	case path == "":
		return fmt.Errorf("storage: sqlite: empty database path")
	case strings.ContainsRune(path, '?'):
		return fmt.Errorf("storage: sqlite: the DSN is a file path; remove the query string %q (Latchkey sets the connection options)", path[strings.IndexRune(path, '?'):])
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return fmt.Errorf("storage: sqlite: %q is not a file path", path)
	}
	return nil
}

// sqliteDSN builds the driver's DSN. modernc.org/sqlite (through the
// github.com/libtnb/sqlite dialector) reads _pragma and _txlock; the
// dialector adds _time_format=sqlite, so times are written in the
// "2006-01-02 15:04:05.999999999-07:00" form, always in UTC, which sorts as
// it compares (the form of databases written by earlier releases too).
func sqliteDSN(path string, pragmas []string, txlock string) string {
	var b strings.Builder
	b.WriteString(path)
	sep := byte('?')
	for _, p := range pragmas {
		b.WriteByte(sep)
		b.WriteString("_pragma=")
		b.WriteString(p)
		sep = '&'
	}
	if txlock != "" {
		b.WriteByte(sep)
		b.WriteString("_txlock=")
		b.WriteString(txlock)
	}
	return b.String()
}

func openSQLitePool(ctx context.Context, dsn string, conns int, config func() *gorm.Config) (*gorm.DB, error) {
	db, err := gorm.Open(sqlite.Open(dsn), config())
	if err != nil {
		return nil, fmt.Errorf("storage: open sqlite: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("storage: open sqlite: %w", err)
	}
	sqlDB.SetMaxOpenConns(conns)
	sqlDB.SetMaxIdleConns(conns)
	sqlDB.SetConnMaxLifetime(0)
	sqlDB.SetConnMaxIdleTime(0)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("storage: open sqlite: %w", err)
	}
	return db, nil
}
