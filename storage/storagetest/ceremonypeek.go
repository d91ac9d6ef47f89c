package storagetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// testCeremonyPeek: a peeked ceremony stays until deleted; of concurrent
// deletes (on two replicas) one succeeds; an expired one peeks as gone.
func testCeremonyPeek(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	s2 := openReplica(t, s)
	const realm = "rl_peek"
	c := newCeremony(sig("peek"), realm, "usr_peek", base.Add(time.Minute))
	if err := s.CreateCeremony(ctx, c); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := s2.PeekCeremony(ctx, c.ID, base)
		if err != nil {
			t.Fatalf("PeekCeremony: %v", err)
		}
		checkCeremony(t, "peeked", got, c)
	}
	if _, err := s.PeekCeremony(ctx, c.ID, base.Add(time.Minute)); err != storage.ErrNotFound {
		t.Fatalf("PeekCeremony(expired) = %v, want ErrNotFound", err)
	}
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			store := s
			if i%2 == 1 {
				store = s2
			}
			switch err := store.DeleteCeremony(ctx, c.ID); err {
			case nil:
				won.Add(1)
			case storage.ErrNotFound:
			default:
				t.Errorf("DeleteCeremony: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d of 8 concurrent deletes succeeded, want 1", won.Load())
	}
	wantErrIs(t, "peek after delete", func() error { _, err := s.PeekCeremony(ctx, c.ID, base); return err }(), storage.ErrNotFound)
	wantErrIs(t, "delete of an unknown id", s.DeleteCeremony(ctx, sig("never")), storage.ErrNotFound)
}
