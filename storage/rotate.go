package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ory/fosite"
)

// ErrUserInactive: RotateAndCreate found the token's user missing or not
// active, and wrote nothing.
var ErrUserInactive = errors.New("storage: user missing or not active")

// userActive is the users.status of a user who may hold tokens
// (accounts.StatusActive).
const userActive = "active"

// RotateAndCreate is a refresh in one atomic step: it marks the refresh
// token oldSignature of grant requestID used — only if it is still active —
// and stores request's new access token (accessSignature) and refresh token
// (refreshSignature). If oldSignature was not active (used, revoked, or
// rotated by a concurrent request) nothing is written and the error wraps
// fosite.ErrInactiveToken; of any number of concurrent rotations of one
// token exactly one succeeds.
//
// userID is the user the grant belongs to, "" for a client's own tokens.
// When set, the same transaction first reads the user's status, with a
// shared row lock on MySQL (LOCK IN SHARE MODE, so rotations of one user do
// not wait for each other; on SQLite the transaction already holds the
// write lock): a user who is missing or not active gets nothing
// written and an error wrapping [ErrUserInactive], checked before the
// token. A deactivation updates the user row before it revokes the user's
// tokens, so it and a rotation serialise on that row: either the rotation
// sees the user deactivated, or the revocation sees the new pair. A status
// check made before the call, outside its transaction, cannot give that.
//
// Concurrent calls made outside a transaction are group-committed: a
// worker takes whatever is queued and, in one transaction, reads the
// statuses of the batch's users in one SELECT, runs each call's conditional
// UPDATE (in the order of the old signatures, so that batches of several
// workers or replicas lock refresh rows in one order and cannot deadlock
// each other), then one multi-row INSERT per table for the calls that won,
// and commits once. A transaction of four statements per token made
// refresh the slowest write path: SQLite's single writer queued them, and
// on MySQL each cost six round trips and a log flush. Inside the caller's
// transaction it is a plain step of that transaction.
func (s *Store) RotateAndCreate(ctx context.Context, requestID, oldSignature, accessSignature, refreshSignature string, request fosite.Requester, userID string) error {
	const op = "rotate and create"
	for _, sig := range []string{oldSignature, accessSignature, refreshSignature} {
		if err := checkSignature(op, sig); err != nil {
			return err
		}
	}
	if err := checkUserID(op, userID); err != nil {
		return err
	}
	accessRow, err := newTokenRow(accessSignature, request, fosite.AccessToken)
	if err != nil {
		return fmt.Errorf("storage: %s: %w", op, err)
	}
	refreshRow, err := newTokenRow(refreshSignature, request, fosite.RefreshToken)
	if err != nil {
		return fmt.Errorf("storage: %s: %w", op, err)
	}
	r := &rotation{
		userID:       userID,
		oldSignature: oldSignature,
		access:       &accessTokenRow{Token: accessRow},
		refresh:      &refreshTokenRow{Token: refreshRow, AccessSignature: accessSignature},
	}
	if s.rotations == nil || s.txFrom(ctx) != nil {
		return s.InTx(ctx, func(ctx context.Context) error { return s.applyRotation(ctx, r) })
	}
	return s.rotations.insert(ctx, r)
}

// applyRotation applies one rotation in the transaction in ctx and returns
// its outcome.
func (s *Store) applyRotation(ctx context.Context, r *rotation) error {
	if err := s.applyRotations(ctx, []*rotation{r}); err != nil {
		return err
	}
	return r.err
}

// rotation is one RotateAndCreate call.
type rotation struct {
	userID       string // "" for a client's tokens: no status to check
	oldSignature string
	access       *accessTokenRow
	refresh      *refreshTokenRow
	err          error // this rotation's own outcome (inactive token or user)
}

// applyRotations runs in a transaction: the statuses of the rotations'
// users (one SELECT, locking their rows on MySQL), then each rotation's
// conditional UPDATE in order (a second rotation of one token in the batch
// sees the first's update and loses), skipping those whose user is not
// active, then the winners' rows in one INSERT per table. A returned error
// means the transaction must roll back.
func (s *Store) applyRotations(ctx context.Context, rs []*rotation) error {
	const op = "rotate and create"
	if len(rs) > 1 {
		rs = slices.Clone(rs)
		slices.SortStableFunc(rs, func(a, b *rotation) int { return strings.Compare(a.oldSignature, b.oldSignature) })
	}
	statuses, err := s.lockUserStatuses(ctx, rotationUsers(rs))
	if err != nil {
		return mapErr(op, err)
	}
	now := dbTime(s.now())
	var access []*accessTokenRow
	var refresh []*refreshTokenRow
	for _, r := range rs {
		if r.userID != "" && statuses[r.userID] != userActive {
			r.err = fmt.Errorf("%w (%s)", ErrUserInactive, op)
			continue
		}
		res := s.db(ctx).Exec("UPDATE refresh_tokens SET active = ?, used_at = ? WHERE signature = ? AND active = ?",
			false, now, r.oldSignature, true)
		if res.Error != nil {
			return mapErr(op, res.Error)
		}
		if res.RowsAffected == 0 {
			r.err = fmt.Errorf("storage: %s: %w", op, fosite.ErrInactiveToken)
			continue
		}
		r.err = nil
		access = append(access, r.access)
		refresh = append(refresh, r.refresh)
	}
	if len(access) == 0 {
		return nil
	}
	if err := insertAccessTokens(s.db(ctx), access); err != nil {
		return mapErr(op, err)
	}
	return mapErr(op, insertRefreshTokens(s.db(ctx), refresh))
}

// LockActiveUser checks, in the transaction in ctx, that the user userID
// exists and is active, holding the user's row lock on MySQL (SELECT … FOR
// UPDATE; on SQLite the transaction already holds the write lock) until the
// transaction ends; otherwise the error wraps [ErrUserInactive]. It is
// RotateAndCreate's check, for a transaction that issues a user's tokens
// some other way (the refresh grace path): a deactivation updates the user
// row before revoking, so the two serialise on it. Call it before locking
// or writing any token row of the user, in the order a deactivation takes
// them, or the two can deadlock.
func (s *Store) LockActiveUser(ctx context.Context, userID string) error {
	const op = "lock active user"
	if s.txFrom(ctx) == nil {
		return ErrNoTransaction
	}
	if err := checkUserID(op, userID); err != nil {
		return err
	}
	statuses, err := s.lockUserStatuses(ctx, []any{userID})
	if err != nil {
		return mapErr(op, err)
	}
	if statuses[userID] != userActive {
		return fmt.Errorf("%w (%s)", ErrUserInactive, op)
	}
	return nil
}

// checkUserID refuses, before any query, a user id the column cannot hold.
func checkUserID(op, userID string) error {
	if !utf8.ValidString(userID) || utf8.RuneCountInString(userID) > maxUserIDLen {
		return fmt.Errorf("%w: %s: user id must be valid UTF-8 of at most %d characters", ErrInvalidInput, op, maxUserIDLen)
	}
	return nil
}

// rotationUsers are the distinct user ids of rs that have one.
func rotationUsers(rs []*rotation) []any {
	var ids []any
	seen := make(map[string]bool)
	for _, r := range rs {
		if r.userID != "" && !seen[r.userID] {
			seen[r.userID] = true
			ids = append(ids, r.userID)
		}
	}
	return ids
}

// lockUserStatuses reads the status of the users ids, in one SELECT …
// WHERE id IN (…), LOCK IN SHARE MODE on MySQL, in the transaction in ctx. A
// user without a row is absent from the map.
func (s *Store) lockUserStatuses(ctx context.Context, ids []any) (map[string]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var q strings.Builder
	q.WriteString("SELECT id, status FROM users WHERE ")
	if len(ids) == 1 {
		q.WriteString("id = ?")
	} else {
		q.WriteString("id IN (?" + strings.Repeat(",?", len(ids)-1) + ")")
	}
	if s.driver == DriverMySQL {
		// A shared lock: concurrent refreshes of one user (several devices,
		// or a benchmark's workers) do not queue behind each other, while a
		// deactivation's UPDATE of the row waits for them, or they for it.
		q.WriteString(" LOCK IN SHARE MODE")
	}
	rows, err := s.db(ctx).Raw(q.String(), ids...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	statuses := make(map[string]string, len(ids))
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return nil, err
		}
		statuses[id] = status
	}
	return statuses, rows.Err()
}

// rotationTx is the group committer's write for rotations: one
// transaction for the whole batch.
func (s *Store) rotationTx(ctx context.Context, rs []*rotation) error {
	return s.InTx(ctx, func(ctx context.Context) error { return s.applyRotations(ctx, rs) })
}

// rotationResult is one rotation's own outcome after its batch committed.
func rotationResult(r *rotation) error { return r.err }
