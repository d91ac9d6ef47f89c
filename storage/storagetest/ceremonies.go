package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// race runs fn n times at once and returns the errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// wantOneWinner fails unless exactly one of errs is nil and every other is
// one of losers.
func wantOneWinner(t *testing.T, what string, errs []error, losers ...error) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, err := range errs {
		if err == nil {
			counts["won"]++
			continue
		}
		known := false
		for _, l := range losers {
			if errors.Is(err, l) {
				counts[l.Error()]++
				known = true
				break
			}
		}
		if !known {
			t.Errorf("%s: unexpected error %v", what, err)
		}
	}
	if counts["won"] != 1 {
		t.Fatalf("%s: %d of %d concurrent callers won, want exactly 1 (%v)", what, counts["won"], len(errs), counts)
	}
	return counts
}

func newCeremony(id, realm, userID string, exp time.Time) *storage.Ceremony {
	return &storage.Ceremony{ID: id, Realm: realm, UserID: userID, Username: "user of " + userID, Purpose: "login",
		CredentialUUID: "a1a1a1a1-0000-8000-8000-000000000001", Data: []byte(`{"challenge":"` + id + `"}`), ExpiresAt: exp}
}

func checkCeremony(t *testing.T, what string, got, want *storage.Ceremony) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no ceremony", what)
	}
	if got.ID != want.ID || got.Realm != want.Realm || got.UserID != want.UserID || got.Username != want.Username ||
		got.Purpose != want.Purpose || got.CredentialUUID != want.CredentialUUID || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s = %+v (%d bytes of data),\nwant %+v (%d bytes)", what, got.ID, len(got.Data), want.ID, len(want.Data))
	}
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

func testCeremonyRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const realm = "rl_cer_rt"
	// 64 KiB of data, every byte value; Unicode in the username.
	full := newCeremony(sig("ceremony-full"), realm, "usr_cer", base.Add(5*time.Minute))
	full.Username, full.Purpose, full.Data = "Ünïcode ✓", "registration", allBytes(64<<10, 3)
	// A login of a user not known yet: no user, no credential, no data.
	bare := &storage.Ceremony{ID: sig("ceremony-bare"), Realm: realm, Purpose: "discoverable_login", ExpiresAt: base.Add(5 * time.Minute)}
	for _, c := range []*storage.Ceremony{full, bare} {
		if err := s.CreateCeremony(ctx, c); err != nil {
			t.Fatalf("CreateCeremony(%.8s): %v", c.ID, err)
		}
	}
	wantErrIs(t, "a ceremony id taken", s.CreateCeremony(ctx, newCeremony(full.ID, realm, "usr_other", base.Add(time.Hour))), storage.ErrAlreadyExists)

	_, err := s.TakeCeremony(ctx, strings.ToUpper(full.ID), base)
	wantErrIs(t, "the id in upper case", err, storage.ErrNotFound)
	got, err := s.TakeCeremony(ctx, full.ID, base)
	if err != nil {
		t.Fatalf("TakeCeremony: %v", err)
	}
	checkCeremony(t, "the full ceremony", got, full)
	_, err = s.TakeCeremony(ctx, full.ID, base)
	wantErrIs(t, "a ceremony taken twice", err, storage.ErrNotFound)
	got, err = s.TakeCeremony(ctx, bare.ID, base)
	if err != nil {
		t.Fatalf("TakeCeremony(bare): %v", err)
	}
	checkCeremony(t, "the bare ceremony", got, bare)

	// Expired at its ExpiresAt: not found, and gone (an earlier clock does
	// not find it either).
	exp := newCeremony(sig("ceremony-expired"), realm, "usr_cer", base)
	if err := s.CreateCeremony(ctx, exp); err != nil {
		t.Fatal(err)
	}
	_, err = s.TakeCeremony(ctx, exp.ID, base)
	wantErrIs(t, "a ceremony at its expiry", err, storage.ErrNotFound)
	_, err = s.TakeCeremony(ctx, exp.ID, base.Add(-time.Hour))
	wantErrIs(t, "an expired ceremony once taken", err, storage.ErrNotFound)
	_, err = s.TakeCeremony(ctx, sig("never created"), base)
	wantErrIs(t, "an unknown ceremony", err, storage.ErrNotFound)
	_, err = s.TakeCeremony(ctx, strings.Repeat("a", 65), base)
	wantErrIs(t, "an over-long id", err, storage.ErrNotFound)

	for name, c := range map[string]*storage.Ceremony{
		"no id":              {Realm: realm, Purpose: "login", ExpiresAt: base},
		"an id too long":     {ID: strings.Repeat("a", 65), Realm: realm, Purpose: "login", ExpiresAt: base},
		"no realm":           {ID: sig("bad-1"), Purpose: "login", ExpiresAt: base},
		"no purpose":         {ID: sig("bad-2"), Realm: realm, ExpiresAt: base},
		"a purpose too long": {ID: sig("bad-3"), Realm: realm, Purpose: strings.Repeat("p", 33), ExpiresAt: base},
		"data too long":      {ID: sig("bad-4"), Realm: realm, Purpose: "login", Data: make([]byte, 64<<10+1), ExpiresAt: base},
		"no expiry":          {ID: sig("bad-5"), Realm: realm, Purpose: "login"},
		"bad UTF-8":          {ID: sig("bad-6"), Realm: realm, Username: "\xc3", Purpose: "login", ExpiresAt: base},
		"a uuid too long":    {ID: sig("bad-7"), Realm: realm, Purpose: "login", CredentialUUID: strings.Repeat("u", 37), ExpiresAt: base},
	} {
		wantErrIs(t, name, s.CreateCeremony(ctx, c), storage.ErrInvalidInput)
	}
}

// Of concurrent takers of one ceremony, exactly one gets it.
func testCeremonyTakeConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for round := range 5 {
		c := newCeremony(sig(fmt.Sprint("ceremony-race-", round)), "rl_cer_race", "usr_cer", base.Add(time.Minute))
		if err := s.CreateCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var taken []*storage.Ceremony
		errs := race(16, func(int) error {
			got, err := s.TakeCeremony(ctx, c.ID, base)
			if err == nil {
				mu.Lock()
				taken = append(taken, got)
				mu.Unlock()
			}
			return err
		})
		wantOneWinner(t, fmt.Sprint("round ", round), errs, storage.ErrNotFound)
		checkCeremony(t, "the ceremony taken", taken[0], c)
	}
}
