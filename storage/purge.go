package storage

import (
	"context"
	"fmt"
	"time"
)

// defaultPurgeBatch rows are deleted per statement: small enough that the
// write lock (SQLite) or the row locks (MySQL) are held for milliseconds.
const defaultPurgeBatch = 500

// PurgeExpired deletes the rows of access_tokens, refresh_tokens, used_ids,
// signup_tokens, one_time_codes, authorization_codes, login_requests,
// browser_sessions, session_grants, webauthn_ceremonies and
// passkey_transactions whose expiry is before before (and
// stale login_attempts), batch rows at a time (batch ≤ 0 means 500): it
// selects a batch of keys by the expires_at index, deletes those, and
// repeats until a batch comes back short. Each batch is its own statement,
// outside any transaction, so no lock is held for long. Refresh tokens are
// kept, used or not, until their own expiry: reuse detection needs them.
// Rows without an expiry are never purged. It returns how many rows it
// deleted, including on error.
func (s *Store) PurgeExpired(ctx context.Context, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	before = clampTime(before)
	var total int64
	for _, purge := range []func() (int64, error){
		func() (int64, error) { return purgeTable[string](ctx, s, "access_tokens", "signature", before, batch) },
		func() (int64, error) { return purgeTable[string](ctx, s, "refresh_tokens", "signature", before, batch) },
		func() (int64, error) { return purgeTable[int64](ctx, s, "used_ids", "seq", before, batch) },
		func() (int64, error) { return s.PurgeLoginAttempts(ctx, before, batch) },
		func() (int64, error) { return purgeTable[string](ctx, s, "signup_tokens", "id", before, batch) },
		func() (int64, error) { return purgeTable[string](ctx, s, "one_time_codes", "id", before, batch) },
		func() (int64, error) {
			return purgeTable[string](ctx, s, "authorization_codes", "signature", before, batch)
		},
		func() (int64, error) { return purgeTable[string](ctx, s, "login_requests", "id_hash", before, batch) },
		func() (int64, error) { return purgeTable[string](ctx, s, "browser_sessions", "id_hash", before, batch) },
		func() (int64, error) { return s.purgeSessionGrants(ctx, before, batch) },
		func() (int64, error) { return purgeTable[string](ctx, s, "webauthn_ceremonies", "id", before, batch) },
		func() (int64, error) {
			return purgeTable[string](ctx, s, "passkey_transactions", "id", before, batch)
		},
		func() (int64, error) { return purgeTable[string](ctx, s, "revoked_tokens", "id_hash", before, batch) },
	} {
		n, err := purge()
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// purgeTable is the batch loop for one table whose primary key column key
// has Go type K. table and key are constants of this file, never input.
func purgeTable[K string | int64](ctx context.Context, s *Store, table, key string, before time.Time, batch int) (int64, error) {
	var total int64
	for {
		var keys []K
		err := s.reader(ctx).Table(table).
			Where("expires_at < ?", before).
			Order("expires_at").
			Limit(batch).
			Pluck(key, &keys).Error
		if err != nil {
			return total, mapErr("purge "+table, err)
		}
		if len(keys) == 0 {
			return total, nil
		}
		res := s.db(ctx).Exec(
			fmt.Sprintf("DELETE FROM %s WHERE %s IN ? AND expires_at < ?", table, key),
			keys, before)
		if res.Error != nil {
			return total, mapErr("purge "+table, res.Error)
		}
		total += res.RowsAffected
		if len(keys) < batch {
			return total, nil
		}
	}
}

// RunPurger purges rows that expired more than grace ago, now and then every
// interval (≤ 0 means a minute), until ctx ends. It logs what it deleted at
// debug level and failures at warn; a failed round is retried at the next
// tick.
func (s *Store) RunPurger(ctx context.Context, interval, grace time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		start := time.Now()
		n, err := s.PurgeExpired(ctx, s.now().Add(-grace), defaultPurgeBatch)
		switch {
		case err != nil && ctx.Err() != nil:
			return // shutting down
		case err != nil:
			s.log.WarnContext(ctx, "storage: purge expired rows failed", "deleted", n, "error", err)
		default:
			s.log.DebugContext(ctx, "storage: purged expired rows", "deleted", n, "took", time.Since(start))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// purgeSessionGrants deletes expired session_grants rows, batch at a time
// (the table's key has two columns, so it does not fit purgeTable).
func (s *Store) purgeSessionGrants(ctx context.Context, before time.Time, batch int) (int64, error) {
	var total int64
	for {
		q := "DELETE FROM session_grants WHERE expires_at < ? LIMIT ?"
		if s.driver == DriverSQLite {
			q = "DELETE FROM session_grants WHERE rowid IN (SELECT rowid FROM session_grants WHERE expires_at < ? LIMIT ?)"
		}
		res := s.db(ctx).Exec(q, before, batch)
		if res.Error != nil {
			return total, mapErr("purge session_grants", res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected < int64(batch) {
			return total, nil
		}
	}
}
