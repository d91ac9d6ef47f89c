package storage

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by writes made after Close.
var ErrClosed = errors.New("storage: store is closed")

// Group commit (DESIGN §4). A single-row insert made outside a transaction
// costs one commit, and on SQLite the one writer's commit (WAL frames,
// statement parse) is the ceiling of token issuance. groupCommitter queues
// such inserts; a worker takes whatever is queued (up to maxBatch rows),
// writes them as one multi-row INSERT — one statement, so one implicit
// transaction and one commit — and answers each caller only after that
// commit. Under light load a batch is one row and nothing waits; under heavy
// load commits are shared. A failed batch is retried row by row, so each
// caller gets its own row's error (a duplicate key fails only its own row).
type groupCommitter[T any] struct {
	write    func(ctx context.Context, rows []*T) error
	result   func(row *T) error // a written row's own outcome; nil means none
	reqs     chan *insertReq[T]
	quit     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
	maxBatch int
}

type insertReq[T any] struct {
	row  *T
	done chan error
}

// batchTimeout bounds one batch's statement: it serves many requests, so it
// runs on its own context rather than any one caller's.
const batchTimeout = 10 * time.Second

// newGroupCommitter starts workers that write batches with write, which
// must write all rows atomically (one statement, or one transaction).
// result, if not nil, gives each row's own outcome after a successful write
// (a refresh whose token was no longer active).
func newGroupCommitter[T any](write func(context.Context, []*T) error, result func(*T) error, workers, maxBatch int) *groupCommitter[T] {
	g := &groupCommitter[T]{
		write:    write,
		result:   result,
		reqs:     make(chan *insertReq[T], maxBatch*workers),
		quit:     make(chan struct{}),
		maxBatch: maxBatch,
	}
	for range workers {
		g.wg.Add(1)
		go g.work()
	}
	return g
}

// insert queues row and waits until it is committed, ctx ends, or the
// store closes. If ctx ends first the row may still be written; callers
// treat that as a failed request (nobody ever sees the token).
func (g *groupCommitter[T]) insert(ctx context.Context, row *T) error {
	r := &insertReq[T]{row: row, done: make(chan error, 1)}
	select {
	case g.reqs <- r:
	case <-g.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-g.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *groupCommitter[T]) work() {
	defer g.wg.Done()
	batch := make([]*insertReq[T], 0, g.maxBatch)
	rows := make([]*T, 0, g.maxBatch)
	for {
		select {
		case <-g.quit:
			return
		case r := <-g.reqs:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < g.maxBatch {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		rows = rows[:0]
		for _, r := range batch {
			rows = append(rows, r.row)
		}
		g.commit(batch, rows)
	}
}

func (g *groupCommitter[T]) commit(batch []*insertReq[T], rows []*T) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := g.write(ctx, rows)
	if err != nil && len(batch) > 1 {
		for i, r := range batch {
			r.done <- g.outcome(r.row, g.write(ctx, rows[i:i+1]))
		}
		return
	}
	for _, r := range batch {
		r.done <- g.outcome(r.row, err)
	}
}

// outcome is a row's answer: the write's error, else its own result.
func (g *groupCommitter[T]) outcome(row *T, err error) error {
	if err != nil || g.result == nil {
		return err
	}
	return g.result(row)
}

// close stops the workers; queued and later inserts get ErrClosed.
func (g *groupCommitter[T]) close() {
	g.once.Do(func() { close(g.quit) })
	g.wg.Wait()
}
