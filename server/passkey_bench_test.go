package server_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey/internal/softauthn"
)

// BenchmarkLoginIDPasskeySignIn is one LoginID passkey sign-in per
// iteration (authenticate/fido2/init, the software authenticator,
// authenticate/fido2/complete) over HTTP on SQLite, 16 at a time, each
// goroutine as its own user.
func BenchmarkLoginIDPasskeySignIn(b *testing.B) {
	lf := newLoginIDFixture(b, fixtureOpts{})
	const users = 16
	auths := make([]*softauthn.Authenticator, users)
	for i := range auths {
		auths[i] = lidAuthn()
		lf.registerPasskey(auths[i], fmt.Sprintf("bench%d", i))
	}
	var next atomic.Int32
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)-1) % users
		name := fmt.Sprintf("bench%d", i)
		for pb.Next() {
			if r := lf.loginComplete(lf.loginBody(auths[i], name)); r.status != 200 {
				b.Fatalf("sign-in: %v", r)
			}
		}
	})
}
