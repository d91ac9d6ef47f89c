package storage

import (
	"context"
	"fmt"
	"sync"

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
	return s.rotations.run(ctx, r)
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
	done         chan error
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

// rotationBatcher group-commits RotateAndCreate calls on SQLite.
type rotationBatcher struct {
	s        *Store
	reqs     chan *rotation
	quit     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
	maxBatch int
}

func newRotationBatcher(s *Store, maxBatch int) *rotationBatcher {
	b := &rotationBatcher{s: s, reqs: make(chan *rotation, maxBatch), quit: make(chan struct{}), maxBatch: maxBatch}
	b.wg.Add(1)
	go b.work()
	return b
}

func (b *rotationBatcher) run(ctx context.Context, r *rotation) error {
	r.done = make(chan error, 1)
	select {
	case b.reqs <- r:
	case <-b.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-b.quit:
		return ErrClosed
	case <-ctx.Done():
		// The rotation may still commit; the caller answers an error and the
		// client's retry is then reuse, as for any lost response.
		return ctx.Err()
	}
}

func (b *rotationBatcher) work() {
	defer b.wg.Done()
	batch := make([]*rotation, 0, b.maxBatch)
	for {
		select {
		case <-b.quit:
			return
		case r := <-b.reqs:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < b.maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.commit(batch)
	}
}

// commit applies a batch in one transaction. If the transaction fails as a
// whole (a duplicate key, a database error), each rotation is retried in a
// transaction of its own, so only the failing one fails.
func (b *rotationBatcher) commit(batch []*rotation) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := b.s.InTx(ctx, func(ctx context.Context) error { return b.s.applyRotations(ctx, batch) })
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			r.done <- b.s.InTx(ctx, func(ctx context.Context) error { return b.s.applyRotation(ctx, r) })
		}
		return
	}
	for _, r := range batch {
		if err != nil {
			r.done <- err
		} else {
			r.done <- r.err
		}
	}
}

func (b *rotationBatcher) close() {
	b.once.Do(func() { close(b.quit) })
	b.wg.Wait()
}
