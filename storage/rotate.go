package storage

import (
	"context"
	"fmt"

	"github.com/ory/fosite"
)

// RotateAndCreate is a refresh in one atomic step: it marks the refresh
// token oldSignature of grant requestID used — only if it is still active —
// and stores request's new access token (accessSignature) and refresh token
// (refreshSignature). If oldSignature was not active (used, revoked, or
// rotated by a concurrent request) nothing is written and the error wraps
// fosite.ErrInactiveToken; of any number of concurrent rotations of one
// token exactly one succeeds.
//
// On SQLite, concurrent calls made outside a transaction are group-committed
// (DESIGN §4): a worker takes whatever is queued and, in one transaction,
// runs each call's conditional UPDATE, then one multi-row INSERT per table
// for the calls that won, and commits once. SQLite's single writer made
// refresh the slowest write path (a transaction of four statements per
// token). On MySQL, or inside the caller's transaction, it is a plain
// transaction.
func (s *Store) RotateAndCreate(ctx context.Context, requestID, oldSignature, accessSignature, refreshSignature string, request fosite.Requester) error {
	const op = "rotate and create"
	for _, sig := range []string{oldSignature, accessSignature, refreshSignature} {
		if err := checkSignature(op, sig); err != nil {
			return err
		}
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
	oldSignature string
	access       *accessTokenRow
	refresh      *refreshTokenRow
	err          error // this rotation's own outcome (inactive)
}

// applyRotations runs in a transaction: each rotation's conditional UPDATE
// in order (a second rotation of one token in the batch sees the first's
// update and loses), then the winners' rows in one INSERT per table. A
// returned error means the transaction must roll back.
func (s *Store) applyRotations(ctx context.Context, rs []*rotation) error {
	const op = "rotate and create"
	now := dbTime(s.now())
	var access []*accessTokenRow
	var refresh []*refreshTokenRow
	for _, r := range rs {
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

// rotationTx is the group committer's write for rotations: one
// transaction for the whole batch.
func (s *Store) rotationTx(ctx context.Context, rs []*rotation) error {
	return s.InTx(ctx, func(ctx context.Context) error { return s.applyRotations(ctx, rs) })
}

// rotationResult is one rotation's own outcome after its batch committed.
func rotationResult(r *rotation) error { return r.err }
