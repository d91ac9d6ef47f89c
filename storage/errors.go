package storage

import (
	"errors"
	"fmt"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/ory/fosite"
	"gorm.io/gorm"
	sqlitedriver "modernc.org/sqlite"
)

// Sentinel errors. Test with errors.Is: the store wraps them with the
// operation that failed.
var (
	// ErrAlreadyExists: a row with the same key exists (a duplicate token
	// signature).
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrAlreadyUsed: UseOnce saw the id before.
	ErrAlreadyUsed = errors.New("storage: already used")
	// ErrInvalidInput: an argument the schema cannot hold (too long, empty);
	// refused before any database round trip.
	ErrInvalidInput = errors.New("storage: invalid input")
	// ErrNoTransaction: Commit or Rollback with no transaction of this
	// Store in the context.
	ErrNoTransaction = errors.New("storage: no transaction in context")
	// ErrTxRolledBack: Commit of a transaction that a joined (nested)
	// caller rolled back; the whole transaction was rolled back.
	ErrTxRolledBack = errors.New("storage: transaction was rolled back by a nested caller")
)

// MySQL and SQLite error numbers the store recognises.
const (
	mysqlDuplicateEntry  = 1062
	mysqlLockWaitTimeout = 1205
	mysqlDeadlock        = 1213

	sqliteBusy                 = 5
	sqliteLocked               = 6
	sqliteConstraint           = 19
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// mapErr is the one place database errors become storage errors: no row is
// fosite.ErrNotFound (unwrapped: fosite compares it), a duplicate key is
// ErrAlreadyExists, anything else is wrapped with the operation and keeps the
// driver error for IsRetryable.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fosite.ErrNotFound
	case isDuplicate(err):
		return fmt.Errorf("%w (%s)", ErrAlreadyExists, op)
	default:
		return fmt.Errorf("storage: %s: %w", op, err)
	}
}

func isDuplicate(err error) bool {
	if myErr, ok := errors.AsType[*gomysql.MySQLError](err); ok {
		return myErr.Number == mysqlDuplicateEntry
	}
	if liteErr, ok := errors.AsType[*sqlitedriver.Error](err); ok {
		switch liteErr.Code() {
		case sqliteConstraintUnique, sqliteConstraintPrimaryKey:
			return true
		case sqliteConstraint:
			return strings.Contains(liteErr.Error(), "UNIQUE constraint failed")
		}
	}
	return false
}

// IsRetryable reports whether err is a transient conflict worth retrying the
// whole transaction for: on MySQL a deadlock (1213) or a lock wait timeout
// (1205); on SQLite SQLITE_BUSY or SQLITE_LOCKED (the busy timeout ran out).
func IsRetryable(err error) bool {
	if myErr, ok := errors.AsType[*gomysql.MySQLError](err); ok {
		return myErr.Number == mysqlDeadlock || myErr.Number == mysqlLockWaitTimeout
	}
	if liteErr, ok := errors.AsType[*sqlitedriver.Error](err); ok {
		switch liteErr.Code() & 0xff {
		case sqliteBusy, sqliteLocked:
			return true
		}
	}
	return false
}
