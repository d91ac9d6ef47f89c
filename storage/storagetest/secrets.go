package storagetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/storage"
)

// testInstanceSecrets: a secret is made once per database and is the same
// for every caller, on both replicas and under a race of first callers.
func testInstanceSecrets(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	s2 := openReplica(t, s)
	const name = "conformance secret"
	got := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			store := s
			if i%2 == 1 {
				store = s2
			}
			v, err := store.InstanceSecret(ctx, name, 32)
			if err != nil {
				t.Errorf("InstanceSecret #%d: %v", i, err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i, v := range got {
		if len(v) != 32 || !bytes.Equal(v, got[0]) {
			t.Fatalf("caller %d got %x, caller 0 %x: want one 32-byte secret for all", i, v, got[0])
		}
	}
	if again, err := s.InstanceSecret(ctx, name, 32); err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("InstanceSecret again = %x, %v; want the stored one", again, err)
	}
	other, err := s.InstanceSecret(ctx, "another secret", 32)
	if err != nil || bytes.Equal(other, got[0]) {
		t.Fatalf("another name's secret = %x, %v; want a different one", other, err)
	}
	for _, bad := range []struct {
		name string
		size int
	}{{"", 32}, {name, 8}, {name, 65}, {name, 16}} {
		if _, err := s.InstanceSecret(ctx, bad.name, bad.size); !errors.Is(err, storage.ErrInvalidInput) {
			t.Errorf("InstanceSecret(%q, %d) = %v, want ErrInvalidInput", bad.name, bad.size, err)
		}
	}
}
