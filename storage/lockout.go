package storage

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// Login lockout (SPEC §3). One row of login_attempts per (realm, normalised
// login name) counts the failure slots taken: every password attempt first
// takes a slot, whether or not the user exists, and gives it back only when
// the password was never evaluated; a successful login frees them all.
//
//   - failures is the number of slots taken. While it is below the maximum,
//     expires_at is the end of the counting window, which starts at the
//     first failure; when that passes, the count starts again.
//   - The reservation that takes the last slot sets the lock: expires_at
//     becomes its time plus the window. Until then nothing changes the row —
//     refused attempts neither count nor extend the lock.
//   - A row whose expires_at has passed is stale: the attempt resets it (no
//     slots taken, a new counting window) and then takes a slot.
//
// Every step is one conditional statement, so attempts on several replicas
// can never take more slots than the maximum: there is no read-then-write.

// ReserveLoginAttempt takes a failure slot for login in realm at now, and
// reports whether it got one: false means the login is locked (maxFailures
// slots are taken and the lock set by the last of them is younger than
// window). maxFailures must be at least 1 and window positive; realm and login
// are 1 to 255 characters, compared byte for byte.
//
// It is an upsert — an INSERT of a first slot, or on the existing row an
// increment that the database applies only while fewer than maxFailures
// slots are taken and the row is not stale — then, when that changed
// nothing, a reset of the row if it is stale and one more upsert. A locked
// attempt costs these three short statements and no more.
func (s *Store) ReserveLoginAttempt(ctx context.Context, realm, login string, maxFailures int, window time.Duration, now time.Time) (bool, error) {
	const op = "reserve login attempt"
	if err := checkLoginKey(op, realm, login); err != nil {
		return false, err
	}
	if maxFailures < 1 || window <= 0 {
		return false, fmt.Errorf("%w: %s: max failures must be at least 1 and the window positive", ErrInvalidInput, op)
	}
	now = clampTime(now)
	until := clampTime(now.Add(window))
	for round := 0; round < maxReserveRounds; round++ {
		var n int64
		var err error
		if s.driver == DriverMySQL {
			// MySQL evaluates ON DUPLICATE KEY UPDATE assignments left to
			// right, each seeing the ones before it: expires_at is set first
			// (it reads the old failures), and failures' condition reads
			// expires_at > now, whose truth the first assignment cannot
			// change (it only moves a future expires_at further).
			n, err = s.lockoutExec(ctx, `INSERT INTO login_attempts (realm, login, failures, expires_at) VALUES (?, ?, 1, ?)
ON DUPLICATE KEY UPDATE
	expires_at = IF(failures < ? AND expires_at > ? AND failures + 1 >= ?, ?, expires_at),
	failures = IF(failures < ? AND expires_at > ?, failures + 1, failures)`,
				realm, login, until,
				maxFailures, now, maxFailures, until,
				maxFailures, now)
		} else {
			n, err = s.lockoutExec(ctx, `INSERT INTO login_attempts (realm, login, failures, expires_at) VALUES (?, ?, 1, ?)
ON CONFLICT (realm, login) DO UPDATE SET
	expires_at = CASE WHEN failures + 1 >= ? THEN ? ELSE expires_at END,
	failures = failures + 1
WHERE failures < ? AND expires_at > ?`,
				realm, login, until,
				maxFailures, until,
				maxFailures, now)
		}
		if err != nil {
			return false, mapErr(op, err)
		}
		if n > 0 { // 1: inserted; MySQL says 2 for an update
			return true, nil
		}
		// Nothing changed: the row is locked, or stale (or, under concurrent
		// successful logins of this name, was stale a moment ago). Only a
		// lock refuses; reading it does not take a slot, so this read cannot
		// let more than maxFailures attempts through: the upsert's condition
		// guarantees that.
		var locked int64
		if err := scanOne(s.db(ctx).Raw("SELECT COUNT(*) FROM login_attempts WHERE realm = ? AND login = ? AND failures >= ? AND expires_at > ?",
			realm, login, maxFailures, now), &locked); err != nil {
			return false, mapErr(op, err)
		}
		if locked > 0 {
			return false, nil
		}
		// Restart a stale row's count, then try again. A reset in place
		// rather than a DELETE, which on InnoDB deadlocks against the
		// upserts' inserts.
		if _, err := s.lockoutExec(ctx, "UPDATE login_attempts SET failures = 0, expires_at = ? WHERE realm = ? AND login = ? AND expires_at <= ?",
			until, realm, login, now); err != nil {
			return false, mapErr(op, err)
		}
	}
	// Still no slot after maxReserveRounds: successful logins of this name
	// keep clearing the row under us. Refusing is the safe answer.
	return false, nil
}

// maxReserveRounds bounds ReserveLoginAttempt's retries when concurrent
// successful logins keep clearing the row under it.
const maxReserveRounds = 16

// ReleaseLoginAttempt gives back one slot taken by ReserveLoginAttempt for an
// attempt whose password was never evaluated (the hashing queue was full,
// the lookup failed). Releasing what is not there is not an error.
func (s *Store) ReleaseLoginAttempt(ctx context.Context, realm, login string) error {
	const op = "release login attempt"
	if err := checkLoginKey(op, realm, login); err != nil {
		return err
	}
	_, err := s.lockoutExec(ctx, "UPDATE login_attempts SET failures = failures - 1 WHERE realm = ? AND login = ? AND failures > 0", realm, login)
	return mapErr(op, err)
}

// ClearLoginAttempts frees every slot of login in realm: a successful login.
// The row is made stale rather than deleted (the purge deletes it), so that
// only UPDATEs race the upserts.
func (s *Store) ClearLoginAttempts(ctx context.Context, realm, login string) error {
	const op = "clear login attempts"
	if err := checkLoginKey(op, realm, login); err != nil {
		return err
	}
	_, err := s.lockoutExec(ctx, "UPDATE login_attempts SET failures = 0, expires_at = ? WHERE realm = ? AND login = ?", minDBTime, realm, login)
	return mapErr(op, err)
}

// ClearLogins frees the slots of each non-empty login of logins in realm,
// as ClearLoginAttempts does: a user's normalised username and e-mail (which
// may be one name) when their password changes or they are deleted.
func (s *Store) ClearLogins(ctx context.Context, realm string, logins ...string) error {
	for i, login := range logins {
		if login == "" || slices.Contains(logins[:i], login) {
			continue
		}
		if err := s.ClearLoginAttempts(ctx, realm, login); err != nil {
			return err
		}
	}
	return nil
}

// LoginFailures reports the slots of login in realm taken at now and, when
// they make a lock, when it ends (else the zero time). A stale row counts
// zero.
func (s *Store) LoginFailures(ctx context.Context, realm, login string, maxFailures int, now time.Time) (failures int, lockedUntil time.Time, err error) {
	var row struct {
		Failures  int
		ExpiresAt time.Time
	}
	res := s.reader(ctx).Raw("SELECT failures, expires_at FROM login_attempts WHERE realm = ? AND login = ?", realm, login).Scan(&row)
	if res.Error != nil {
		return 0, time.Time{}, mapErr("login failures", res.Error)
	}
	if res.RowsAffected == 0 || !row.ExpiresAt.After(clampTime(now)) {
		return 0, time.Time{}, nil
	}
	if row.Failures >= maxFailures {
		return row.Failures, row.ExpiresAt.UTC(), nil
	}
	return row.Failures, time.Time{}, nil
}

// PurgeLoginAttempts deletes the stale rows of login_attempts (expires_at
// before before), batch at a time, like PurgeExpired, and returns how many
// it deleted. PurgeExpired calls it with the token tables.
func (s *Store) PurgeLoginAttempts(ctx context.Context, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	const op = "purge login_attempts"
	before = clampTime(before)
	// One statement per batch, re-checking the expiry, on the expires_at
	// index: MySQL has DELETE … LIMIT, SQLite deletes by rowid.
	query := "DELETE FROM login_attempts WHERE rowid IN (SELECT rowid FROM login_attempts WHERE expires_at < ? ORDER BY expires_at LIMIT ?)"
	if s.driver == DriverMySQL {
		query = "DELETE FROM login_attempts WHERE expires_at < ? ORDER BY expires_at LIMIT ?"
	}
	var total int64
	for {
		n, err := s.lockoutExec(ctx, query, before, batch)
		total += n
		if err != nil {
			return total, mapErr(op, err)
		}
		if n < int64(batch) {
			return total, nil
		}
	}
}

// lockoutExec runs one statement of the lockout. Outside a transaction, a
// deadlock or lock wait timeout (InnoDB can pick a single statement as the
// victim when an upsert, which locks the primary key and then the
// expires_at index, meets the purge, which locks them in the other order)
// is retried twice; inside one, the caller's transaction is gone and the
// error goes up.
func (s *Store) lockoutExec(ctx context.Context, query string, args ...any) (int64, error) {
	for try := 1; ; try++ {
		res := s.db(ctx).Exec(query, args...)
		if res.Error == nil || try == 3 || !IsRetryable(res.Error) || s.txFrom(ctx) != nil {
			return res.RowsAffected, res.Error
		}
		select { // let the other statement finish
		case <-ctx.Done():
			return res.RowsAffected, res.Error
		case <-time.After(time.Duration(try) * time.Millisecond):
		}
	}
}

func checkLoginKey(op, realm, login string) error {
	switch {
	case !utf8.ValidString(realm) || !utf8.ValidString(login):
		return fmt.Errorf("%w: %s: not valid UTF-8", ErrInvalidInput, op)
	case realm == "" || utf8.RuneCountInString(realm) > maxUserTextLen:
		return fmt.Errorf("%w: %s: realm must be 1 to %d characters", ErrInvalidInput, op, maxUserTextLen)
	case login == "" || utf8.RuneCountInString(login) > maxUserTextLen:
		return fmt.Errorf("%w: %s: login must be 1 to %d characters", ErrInvalidInput, op, maxUserTextLen)
	}
	return nil
}
