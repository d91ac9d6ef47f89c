package servicetoken_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/sdk/servicetoken"
)

// A backend signs one token per request, with the scopes that request
// needs, and sends it as Authorization: Bearer <token>.
func ExampleSign() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // in practice: the API credential's private key
	tok, err := servicetoken.Sign("cred_demo", key, []string{"users.retrieve"}, servicetoken.Options{
		Username: "alice",
		Nonce:    "0123456789abcdef", // normally left empty: a random one is made
		Now:      func() time.Time { return time.Unix(1_800_000_000, 0) },
	})
	if err != nil {
		panic(err)
	}
	parts := strings.Split(tok, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	fmt.Println(string(header))
	fmt.Println(string(payload))
	// Output:
	// {"alg":"ES256","typ":"JWT"}
	// {"client_id":"cred_demo","type":"users.retrieve","nonce":"0123456789abcdef","iat":1800000000,"username":"alice"}
}

// A token that creates a transaction carries the payload's hash, so that
// it authorizes that payload and no other (POST /tx with another
// tx_payload is refused).
func ExamplePayloadHash() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	payload := "Pay 10 EUR to Bob"
	tok, err := servicetoken.Sign("cred_demo", key, []string{"tx.create"}, servicetoken.Options{
		PayloadHash: servicetoken.PayloadHash(payload),
		Nonce:       "0123456789abcdef",
		Now:         func() time.Time { return time.Unix(1_800_000_000, 0) },
	})
	if err != nil {
		panic(err)
	}
	payloadJSON, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	fmt.Println(string(payloadJSON))
	// Output:
	// {"client_id":"cred_demo","type":"tx.create","nonce":"0123456789abcdef","iat":1800000000,"payload_hash":"Qn5Uch33ZQqXM5udyPjspZDHzLTF1Ut9nfvJkVJypzU"}
}
