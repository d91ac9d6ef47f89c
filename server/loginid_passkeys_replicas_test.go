package server_test

import (
	"errors"
	"testing"
)

// Two replicas on one MariaDB: a ceremony started on one finishes on the
// other, and one completion posted to both at once succeeds once — a
// sign-in, a registration and a transaction's confirmation.
func TestLoginIDPasskeyReplicas(t *testing.T) {
	a := newLoginIDFixture(t, fixtureOpts{mysql: true})
	b := a.replica(t)
	phone := lidAuthn()

	// Registration started on a, finished on b.
	r := a.registerInit("hana")
	done := b.call("POST", "/register/fido2/complete", "", map[string]any{"client_id": "cred_a", "username": "hana",
		"attestation_payload": b.attest(phone, a.obj(r, "attestation_payload"))})
	hanaID := lidCheckPasskeyResponse(t, b, done, "hana", "")

	// A sign-in started on b, its completion sent 10 times to both.
	body := b.loginBody(phone, "hana")
	got := parallel(10, func(i int) (lidResp, error) {
		replica := a
		if i%2 == 1 {
			replica = b
		}
		return replica.send("POST", "/authenticate/fido2/complete", "", body)
	})
	if got[200] != 1 || got[401] != 9 {
		t.Fatalf("one sign-in completed on two replicas: %v, want one 200 and nine 401", got)
	}

	// One registration's completion sent to both: one user, one passkey.
	r = b.registerInit("ines")
	reg := map[string]any{"client_id": "cred_a", "username": "ines", "attestation_payload": a.attest(lidAuthn(), b.obj(r, "attestation_payload"))}
	got = parallel(6, func(i int) (lidResp, error) {
		replica := a
		if i%2 == 1 {
			replica = b
		}
		return replica.send("POST", "/register/fido2/complete", "", reg)
	})
	if got[200] != 1 || got[401] != 5 {
		t.Fatalf("one registration completed on two replicas: %v, want one 200 and five 401", got)
	}

	// A transaction started on a, confirmed on both at once: one JWT.
	txID, ao := a.startTx(t, "hana", "Pay 5 EUR")
	tx := lidTxAssertion(txID, "hana", ao["challenge"], a.assertWith(phone, ao))
	var jwts []string
	results := lidParallelBodies(6, func(i int) (lidResp, error) {
		replica := a
		if i%2 == 0 {
			replica = b
		}
		return replica.send("POST", "/tx/complete", "", tx)
	})
	for _, res := range results {
		if res.status == 200 {
			jwts = append(jwts, res.body["jwt"].(string))
		} else if res.status != 401 {
			t.Errorf("a concurrent confirmation: %v", res)
		}
	}
	if len(jwts) != 1 {
		t.Fatalf("%d confirmations of one transaction on two replicas, want 1", len(jwts))
	}
	if _, c := a.verifyWithCerts(jwts[0]); c["sub"] != hanaID {
		t.Fatalf("tx JWT %v", c)
	}
}

// parallelBodies runs n requests at once and returns their answers.
func lidParallelBodies(n int, req func(i int) (lidResp, error)) []lidResp {
	out := make([]lidResp, n)
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan int)
	for i := range n {
		go func() {
			<-start
			out[i], errs[i] = req(i)
			done <- i
		}()
	}
	close(start)
	for range n {
		<-done
	}
	if err := errors.Join(errs...); err != nil {
		out = append(out, lidResp{status: -1, raw: []byte(err.Error())})
	}
	return out
}
