package apt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/sdk/apt"
)

func ExampleGenerate() {
	// An account provider loads its environment's key once:
	//   key, err := apt.LoadPrivateKey("/path/to/my-key.pem")
	// Here a fresh key stands in for it.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	token, err := apt.Generate("123456-1234-5678-12345679", key, "user_xyz123", 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	// Send it as "Authorization: Bearer " + token to POST /workapi/users.
	// Here, look inside: the server verifies it with the public key.
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		log.Fatal(err)
	}
	payload, err := jws.Verify(&key.PublicKey)
	if err != nil {
		log.Fatal(err)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	var claims struct {
		Exp, Iat        int64
		EnvironmentGUID string `json:"environment_guid"`
		ArbitraryID     string `json:"arbitrary_id"`
		JTI             string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(header))
	fmt.Println(claims.EnvironmentGUID, claims.ArbitraryID, claims.Exp-claims.Iat, len(claims.JTI))
	// Output:
	// {"alg":"RS256"}
	// 123456-1234-5678-12345679 user_xyz123 10 22
}

func ExampleGenerator() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	g := &apt.Generator{
		EnvironmentGUID: "123456-1234-5678-12345679",
		Key:             key,
		KeyID:           "env-2026-11",
		Audience:        "https://auth.example.com",
		Now:             func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	token, err := g.Generate("user_xyz123")
	if err != nil {
		log.Fatal(err)
	}
	parts := strings.Split(token, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	fmt.Println(string(header))
	// The jti is random: show its length only.
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Replace(string(payload), c["jti"].(string), strings.Repeat("x", len(c["jti"].(string))), 1))
	// Output:
	// {"alg":"ES256","kid":"env-2026-11"}
	// {"exp":1767225660,"iat":1767225600,"environment_guid":"123456-1234-5678-12345679","arbitrary_id":"user_xyz123","jti":"xxxxxxxxxxxxxxxxxxxxxx","aud":"https://auth.example.com"}
}
