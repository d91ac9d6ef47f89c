package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ory/fosite/handler/oauth2"
	fositestorage "github.com/ory/fosite/storage"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The interfaces fosite finds by type assertion at composition time, checked
// here at compile time instead of by a panic at start.
var (
	_ oauth2.CoreStorage            = (*Store)(nil)
	_ oauth2.TokenRevocationStorage = (*Store)(nil)
	_ fositestorage.Transactional   = (*Store)(nil)
)

// Driver names accepted by [Open].
const (
	DriverSQLite = "sqlite"
	DriverMySQL  = "mysql"
)

// Options tune a [Store]. The zero value is ready to use.
type Options struct {
	// Now is the clock for used_at and for the purger's cut-off; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives the purger's counts (debug) and errors (warn); nil
	// discards.
	Logger *slog.Logger
}

// Store is the database behind Latchkey. It is safe for concurrent use.
type Store struct {
	driver string
	// write runs writes and transactions. read runs reads outside a
	// transaction: on SQLite a separate, larger pool of query-only
	// connections, so that reads never queue behind the single writer; on
	// MySQL the same pool as write.
	write *gorm.DB
	read  *gorm.DB
	now   func() time.Time
	log   *slog.Logger
	// accessInserts group-commits access-token inserts made outside a
	// transaction (see batch.go).
	accessInserts *groupCommitter[accessTokenRow]
	// usedInserts group-commits single-use ids recorded outside a
	// transaction (client assertion and APT jtis).
	usedInserts *groupCommitter[usedIDRow]
	// rotations group-commits RotateAndCreate.
	rotations *groupCommitter[rotation]
}

// Open connects to the database. driver is [DriverSQLite], with dsn a file
// path such as "data/latchkey.db" (its directory is created if missing; the
// connection settings are Latchkey's, so the path carries no query string),
// or [DriverMySQL], with dsn in go-sql-driver form
// ("user:pass@tcp(host:3306)/latchkey"; parseTime, loc and the session
// settings are forced). Open checks the connection but does not migrate:
// call [Store.Migrate].
func Open(ctx context.Context, driver, dsn string, opts Options) (*Store, error) {
	s := &Store{driver: driver, now: opts.Now, log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	switch driver {
	case DriverSQLite:
		s.write, s.read, err = openSQLite(ctx, dsn, s.gormConfig)
	case DriverMySQL:
		s.write, err = openMySQL(ctx, dsn, s.gormConfig)
		s.read = s.write
	default:
		return nil, fmt.Errorf("storage: unknown driver %q (want %q or %q)", driver, DriverSQLite, DriverMySQL)
	}
	if err != nil {
		return nil, err
	}
	// SQLite has one writer connection: one worker keeps it busy. MySQL
	// takes concurrent commits, so a few workers overlap theirs.
	workers := 1
	if driver == DriverMySQL {
		workers = 4
	}
	s.accessInserts = newGroupCommitter(statement(s.write, insertAccessTokens), nil, workers, maxGroupCommit)
	s.usedInserts = newGroupCommitter(statement(s.write, insertUsedIDs), nil, workers, maxGroupCommit)
	s.rotations = newGroupCommitter(s.rotationTx, rotationResult, workers, maxGroupCommit)
	return s, nil
}

// statement adapts a multi-row INSERT to the group committer: one
// statement on the write pool, its own implicit transaction.
func statement[T any](db *gorm.DB, insert func(*gorm.DB, []*T) error) func(context.Context, []*T) error {
	return func(ctx context.Context, rows []*T) error { return insert(db.WithContext(ctx), rows) }
}

// maxGroupCommit caps the rows of one group commit.
const maxGroupCommit = 64

// gormConfig is the one GORM configuration for every pool: no implicit
// transaction around single writes (it costs a quarter of the throughput on
// MariaDB), prepared statements, a silent logger (errors are returned, not
// logged) and a UTC clock.
func (s *Store) gormConfig() *gorm.Config {
	return &gorm.Config{
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return s.now().UTC().Truncate(time.Microsecond) },
	}
}

// Driver reports the driver the Store was opened with.
func (s *Store) Driver() string { return s.driver }

// Ping checks that the database answers, on every pool.
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range s.pools() {
		sqlDB, err := db.DB()
		if err != nil {
			return fmt.Errorf("storage: ping: %w", err)
		}
		if err := sqlDB.PingContext(ctx); err != nil {
			return fmt.Errorf("storage: ping: %w", err)
		}
	}
	return nil
}

// Close stops the group committer and closes every pool. Transactions still
// open are rolled back by the database.
func (s *Store) Close() error {
	s.accessInserts.close()
	s.usedInserts.close()
	if s.rotations != nil {
		s.rotations.close()
	}
	var errs []error
	for _, db := range s.pools() {
		sqlDB, err := db.DB()
		if err == nil {
			err = sqlDB.Close()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("storage: close: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (s *Store) pools() []*gorm.DB {
	if s.read == s.write {
		return []*gorm.DB{s.write}
	}
	return []*gorm.DB{s.write, s.read}
}

// db is the handle for a write (or a read that must see the caller's own
// writes): the transaction in ctx when there is one of this Store's, else
// the write pool.
func (s *Store) db(ctx context.Context) *gorm.DB {
	if tx := s.txFrom(ctx); tx != nil {
		return tx.db.WithContext(ctx)
	}
	return s.write.WithContext(ctx)
}

// reader is the handle for a read: the transaction in ctx when there is
// one, else the read pool.
func (s *Store) reader(ctx context.Context) *gorm.DB {
	if tx := s.txFrom(ctx); tx != nil {
		return tx.db.WithContext(ctx)
	}
	return s.read.WithContext(ctx)
}
